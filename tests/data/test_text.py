from espnet_pise.data import text


def test_normalize():
    assert text.normalize("And God said, Let there be light-giving ones' day!") == \
        "AND GOD SAID LET THERE BE LIGHT GIVING ONES DAY"
    assert text.normalize("the LORD's  house;") == "THE LORD'S HOUSE"


def test_clauses_and_selection():
    verses = ["In the beginning God created the heaven and the earth. And the earth was without form; and void."]
    got = text.clauses(verses, min_words=3, max_words=14)
    assert got == ["IN THE BEGINNING GOD CREATED THE HEAVEN AND THE EARTH", "AND THE EARTH WAS WITHOUT FORM"]
    # words of the first clause occur once (BEGINNING, CREATED, ...): dropped; duplicates go
    assert text.select_sentences(got + [got[1]], min_word_count=2) == ["AND THE EARTH WAS WITHOUT FORM"]


def test_shipped_sentences():
    sentences = text.load_sentences()
    vocab = {w for s in sentences for w in s.split()}
    assert len(sentences) > 15000 and len(vocab) > 2000
    assert len(set(sentences)) == len(sentences)
    assert all(s == text.normalize(s) for s in sentences[:2000])
