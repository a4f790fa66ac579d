from docbatch.models import Extraction, Page
from docbatch.processors.cleanup import clean_extraction, clean_text


def test_control_characters_are_removed_and_counted() -> None:
    text, removed = clean_text("a\x00b\x01c\x1fd\x7fe\x85f\x9fg\ufffeh")
    # U+0085 (NEL) is a line break, not debris: it becomes "\n" and is not counted; DEL is neither a
    # C0 nor a C1 control and stays.
    assert (text, removed) == ("abcd\x7fe\nfgh", 5)


def test_line_endings_are_normalised_without_a_warning() -> None:
    extraction = Extraction(kind="text", text="one\r\ntwo\rthree\ffour\tfive")
    clean_extraction(extraction)
    assert extraction.text == "one\ntwo\nthree\nfour\tfive"
    assert extraction.warnings == []


def test_a_document_with_nuls_gets_a_warning_with_the_count() -> None:
    pages = [Page(number=1, text="H\x00e\x00l\x00l\x00o\x00"), Page(number=2, text="fine", label="p\x002")]
    extraction = Extraction.from_pages("pdf", pages, title="T\x01itle", metadata={"author": ["A\x00B"]})
    clean_extraction(extraction)
    assert extraction.text == "Hello\n\nfine"
    assert [page.text for page in extraction.pages] == ["Hello", "fine"]
    assert extraction.title == "Title" and extraction.pages[1].label == "p2"
    assert extraction.metadata == {"author": ["AB"]}
    # Counted once although the text repeats the pages.
    assert len(extraction.warnings) == 1 and extraction.warnings[0].startswith("removed 5 control characters")


def test_clean_text_is_left_alone() -> None:
    extraction = Extraction(kind="text", text="Grüße — “quoted” € …\ttab\nline")
    clean_extraction(extraction)
    assert extraction.text == "Grüße — “quoted” € …\ttab\nline" and extraction.warnings == []
