import httpx

from vendors.adapters.base import vendor_message


def test_a_huge_error_page_becomes_a_short_scrubbed_message():
    page = "<html>" + "x" * 5_000_000 + "</html>"
    response = httpx.Response(502, text=page, request=httpx.Request("POST", "https://vendor.example/v1"))
    message = vendor_message(response)
    assert len(message) <= 300 and message.startswith("<html>")


def test_a_url_near_the_cut_is_still_scrubbed():
    text = "a" * 280 + " see https://signed.vendor.example/file.png?sig=abcdef for details"
    response = httpx.Response(400, text=text, request=httpx.Request("POST", "https://vendor.example/v1"))
    assert "signed.vendor.example" not in vendor_message(response)
