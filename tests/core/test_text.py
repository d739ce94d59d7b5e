from core.text import storable


def test_storable_text_loses_nul_controls_and_lone_surrogates_but_keeps_lines_tabs_and_unicode():
    assert storable("a\x00b\x07c\x7fd\ud800e\udfff") == "abcde"
    assert storable("line one\n\tline two\r\n") == "line one\n\tline two\r\n"
    assert storable("雪山 16：9 café 🐱") == "雪山 16：9 café 🐱"
