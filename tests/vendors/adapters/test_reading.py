import httpx
import pytest

from vendors.adapters.reading import as_dict, as_int, as_list, as_str, clean_message, error_codes, vendor_message


def test_a_huge_error_page_becomes_a_short_plain_message():
    page = "<html><body><p>" + "upstream down " * 500_000 + "</p></body></html>"
    response = httpx.Response(502, text=page, request=httpx.Request("POST", "https://vendor.example/v1"))

    message = vendor_message(response)

    assert len(message) <= 1000 and message.startswith("upstream down upstream down")
    assert "<" not in message


def test_a_url_near_the_cut_is_still_scrubbed():
    text = "a" * 280 + " see https://signed.vendor.example/file.png?sig=abcdef for details"
    response = httpx.Response(400, text=text, request=httpx.Request("POST", "https://vendor.example/v1"))
    assert "signed.vendor.example" not in vendor_message(response)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"message": "m", "type": "insufficient_quota", "code": "insufficient_quota"}},
            {"insufficient_quota"},
        ),
        (
            {"code": "Client specified an invalid argument", "error": "Incorrect API key"},
            {"client specified an invalid argument"},
        ),
        (
            [{"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}}],
            {"400", "invalid_argument", "api_key_invalid"},
        ),
        ({"error": {"code": 403, "message": "flagged", "metadata": {"reasons": ["violence"]}}}, {"403", "moderation"}),
        ({"code": 30003, "message": "Model disabled.", "data": None}, {"30003"}),
        ({"success": False, "errors": [{"code": 3036, "message": "x"}, {"code": "3040"}]}, {"3036", "3040"}),
        ({"detail": [{"loc": ["body"], "msg": "x", "type": "content_policy_violation"}]}, {"content_policy_violation"}),
        ({"detail": "Request timed out", "error_type": "request_timeout"}, {"request_timeout"}),
        ({"detail": "Internal server error", "status": 503}, set()),  # a numeric status is the HTTP one
        ({"name": "content_moderation", "errors": ["denied"]}, set()),  # Stability's name: its own reader
        ("Invalid token", set()),
        (None, set()),
    ],
)
def test_error_codes_are_read_from_every_shape_vendors_use(body, expected):
    assert error_codes(body) == expected


def test_a_fastapi_validation_list_reads_as_field_and_message():
    body = {"detail": [{"loc": ["body", "width"], "msg": "Input should be a multiple of 32", "type": "x"}] * 4}
    response = httpx.Response(422, json=body, request=httpx.Request("POST", "https://vendor.example/v1"))

    assert vendor_message(response) == "; ".join(["width: Input should be a multiple of 32"] * 3)


def test_the_exact_key_sent_is_scrubbed_from_the_message():
    request = httpx.Request("POST", "https://vendor.example/v1", headers={"x-key": "plain0042"})
    response = httpx.Response(401, json={"detail": "key plain0042 is not valid"}, request=request)

    assert "plain0042" not in clean_message(response)


def test_json_values_are_read_by_type():
    assert (as_dict({"a": 1}), as_dict([1]), as_list([1]), as_list({"a": 1})) == ({"a": 1}, {}, [1], [])
    assert (as_str("x"), as_str(""), as_str(3), as_int(3), as_int(True), as_int("3")) == (
        "x",
        None,
        None,
        3,
        None,
        None,
    )
