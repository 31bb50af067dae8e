import pytest

from playground.core.text import MAX_TOKEN_CHARS, UNK_ID, Vocab, key, keys, tokenize

HOSTILE = [
    "", " ", "\n\t\r", "\x00\x01\x02\x07\x1b[31m", "😀😀 🍿🎬", "好看的电影，非常棒！", "これは最高の映画です",
    "مرحبا بالعالم", "שלום עולם", "\u202eevil\u202c", "\ud800\udfff lone surrogates \udc00",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "$$\\frac{a}{b}$$ **bold** [x](http://a)",
    "a" * 100_000, "word " * 20_000, "ﬁne ① Ｆｕｌｌｗｉｄｔｈ", "e\u0301\u0301\u0301", "\ufeff\u200b\u200d",
    "don't won’t it's", "!!!???...", None, 12345,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_tokenize_never_raises(text, small_vocab):
    toks = tokenize(text)
    assert all(isinstance(t, str) and t.strip() and len(t) <= MAX_TOKEN_CHARS for t in toks)
    enc = small_vocab.encode(text, max_len=50)
    assert len(enc.ids) == len(enc.tokens) == len(enc.oov) <= 50
    assert all(o == (i == UNK_ID) for i, o in zip(enc.ids, enc.oov))


@pytest.mark.parametrize("text", HOSTILE + ["’’ ’x’ don’’t ‘quoted’ İstanbul straße ﬁne", "A—B – c … d"],
                         ids=range(len(HOSTILE) + 2))
def test_the_fast_paths_give_the_same_keys_and_ids(text, small_vocab):
    """keys() straightens apostrophes in the whole text and encode_ids skips the surface tokens (training
    reads 20,000 reviews this way): the same keys and ids as token by token."""
    assert keys(text) == [key(t) for t in tokenize(text)]
    for max_len in (None, 0, 3, 50):
        assert small_vocab.encode_ids(text, max_len) == list(small_vocab.encode(text, max_len).ids)


def test_words_punctuation_case():
    assert tokenize("Not BAD at all!! It's great, isn’t it?") == ["Not", "BAD", "at", "all", "!", "!", "It's",
                                                                  "great", "isn’t", "it", "?"]
    assert key("Isn’t") == "isn't"
    assert tokenize("one<br /><br />two") == ["one", "two"]


def test_emoji_and_cjk_are_tokens_and_oov(small_vocab):
    enc = small_vocab.encode("good 😀 电影")
    assert enc.tokens == ("good", "😀", "电影")
    assert enc.oov == (False, True, True)


def test_cut_keeps_the_end_and_says_so(small_vocab):
    enc = small_vocab.encode(" ".join(["bad"] * 10 + ["good"] * 5), max_len=5)
    assert enc.tokens == ("good",) * 5
    assert enc.truncated and enc.n_dropped == 10 and enc.n_tokens_total == 15
    assert not small_vocab.encode("good", max_len=5).truncated


def test_vocab_build_is_deterministic_and_respects_limits():
    texts = ["b a c", "a b", "a", "d d"]
    v1, v2 = Vocab.build(texts, max_size=4, min_freq=2), Vocab.build(list(reversed(texts)), max_size=4, min_freq=2)
    assert v1.itos == v2.itos == ["<pad>", "<unk>", "a", "b"]
    assert "A" in v1 and "c" not in v1


def test_vocab_rejects_bad_lists():
    with pytest.raises(ValueError):
        Vocab(["a", "b"])
    with pytest.raises(ValueError):
        Vocab(["<pad>", "<unk>", "x", "x"])
