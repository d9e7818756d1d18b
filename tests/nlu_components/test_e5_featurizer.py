"""E5SentenceFeaturizer: one normalised sentence vector per message, e-mail addresses masked."""
import numpy as np
import pytest

from rasa.shared.nlu.training_data.message import Message

from nlu_components.base import HELD_OUT_TEXT
from nlu_components.e5_featurizer import E5SentenceFeaturizer


def vector(featurizer, text):
    message = Message(data={"text": text})
    featurizer.process([message])
    _, sentence = message.get_dense_features("text")
    return sentence.features.reshape(-1)


def featurizer_(**overrides):
    return E5SentenceFeaturizer.create({**E5SentenceFeaturizer.get_default_config(), **overrides}, None, None, None)


def test_sentence_vector_is_unit_length():
    assert abs(np.linalg.norm(vector(featurizer_(), "aggiungi due licenze")) - 1.0) < 1e-3


def test_the_address_does_not_change_the_vector_only_the_words_do():
    e5 = featurizer_()
    a = vector(e5, "assegna una licenza a giulia.verdi@acme.it")
    b = vector(e5, "assegna una licenza a paolo_ferri@ferrilogistica.com")
    c = vector(e5, "togli la licenza a giulia.verdi@acme.it")
    assert np.allclose(a, b)
    assert not np.allclose(a, c)


def test_masking_can_be_switched_off():
    e5 = featurizer_(mask_emails=False)
    assert not np.allclose(vector(e5, "licenza a giulia@acme.it"), vector(e5, "licenza a paolo@ferri.com"))


def test_an_untrained_featurizer_gives_the_frozen_384_values():
    assert vector(featurizer_(), "aggiungi due licenze").shape == (384,)


TRAINING = [("aggiungi 2 licenze", "add_licenses", None), ("altre tre licenze", "add_licenses", None),
            ("mi servono 4 licenze in più", "add_licenses", None),
            ("quando si rinnova?", "faq", "faq/rinnovo"), ("data del rinnovo", "faq", "faq/rinnovo"),
            ("il rinnovo quando cade?", "faq", "faq/rinnovo")]


def training_data():
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData([Message(data={"text": t, "intent": i, **({"intent_response_key": k} if k else {})})
                         for t, i, k in TRAINING])


def train(tmp_path, **overrides):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    storage, resource = LocalModelStorage(tmp_path), Resource("e5")
    config = {**E5SentenceFeaturizer.get_default_config(), "fine_tune_epochs": 1, "fine_tune_batch_size": 2,
              **overrides}
    trained = E5SentenceFeaturizer.create(config, storage, resource, None)
    trained.train(training_data())
    return trained, (config, storage, resource)


def training_vectors(featurizer, text):
    """The sentence features of a training sentence: (text, held-out or None)."""
    data = training_data()
    featurizer.process_training_data(data)
    message = next(m for m in data.training_examples if m.get("text") == text)
    held_out = message.get_dense_features(HELD_OUT_TEXT)[1]
    return (message.get_dense_features("text")[1].features.reshape(-1),
            None if held_out is None else held_out.features.reshape(-1))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp("e5"))


def test_a_fine_tuned_featurizer_gives_frozen_and_tuned_side_by_side_and_survives_persistence(trained):
    featurizer, stored = trained
    frozen = vector(featurizer_(), "togli una licenza")
    tuned = vector(featurizer, "togli una licenza")
    assert tuned.shape == (768,) and abs(np.linalg.norm(tuned) - 1.0) < 1e-5
    # the first half is the frozen vector (scaled by the joint normalisation)
    assert np.allclose(tuned[:384] / np.linalg.norm(tuned[:384]), frozen, atol=1e-5)

    loaded = E5SentenceFeaturizer.load(*stored, None)
    assert np.allclose(vector(loaded, "togli una licenza"), tuned, atol=1e-3)


def test_training_sentences_also_get_the_tuned_vector_of_an_encoder_that_had_not_seen_them(trained):
    featurizer, stored = trained
    text = "aggiungi 2 licenze"
    as_text, held_out = training_vectors(featurizer, text)
    as_user_message = vector(featurizer, text)
    assert np.allclose(as_text, as_user_message, atol=1e-5)
    assert np.allclose(held_out[:384], as_user_message[:384], atol=1e-5)  # same frozen half
    assert not np.allclose(held_out[384:], as_user_message[384:], atol=1e-2)  # another encoder
    assert abs(np.linalg.norm(held_out) - 1.0) < 1e-5
    assert set(featurizer._model.held_out) == {t for t, _, _ in TRAINING}
    # the held-out vectors are stored with the model (float16)
    loaded = E5SentenceFeaturizer.load(*stored, None)
    assert np.allclose(training_vectors(loaded, text)[1], held_out, atol=1e-3)


def test_user_messages_get_no_held_out_vector(trained):
    featurizer, _ = trained
    message = Message(data={"text": "aggiungi 2 licenze"})
    featurizer.process([message])
    assert message.get_dense_features(HELD_OUT_TEXT)[1] is None


def test_without_cross_fitting_training_sentences_get_no_held_out_vector(tmp_path):
    featurizer, _ = train(tmp_path, cross_fit_parts=0)
    assert featurizer._model.held_out == {}
    assert training_vectors(featurizer, "aggiungi 2 licenze")[1] is None


def test_cross_fitting_parts_split_every_intent_and_cover_each_sentence_once():
    featurizer = featurizer_(cross_fit_parts=3)
    labels = np.array(["a"] * 7 + ["b"] * 3 + ["c"] * 1)
    parts = featurizer._parts(labels)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))
    for part in parts:
        assert {"a", "b"} <= set(labels[part])  # an intent with enough sentences is in every part
        assert 2 <= np.sum(labels[part] == "a") <= 3
    assert featurizer_(cross_fit_parts=1)._parts(labels) == []


def test_rasa_hands_load_the_trained_resource():
    # Rasa's training graph passes `load` only the arguments its signature names
    # (`minimal_kwargs`); with `*args, **kwargs` the tuned model was never loaded
    from rasa.shared.utils.common import minimal_kwargs

    given = {"config": {}, "model_storage": None, "resource": "r", "execution_context": None,
             "training_data": None}
    assert set(minimal_kwargs(given, E5SentenceFeaturizer.load)) == {
        "config", "model_storage", "resource", "execution_context"}


def test_a_model_stored_before_cross_fitting_still_loads(trained, tmp_path):
    featurizer, _ = trained
    older = tmp_path / "e5_tuned_deltas.npz"
    with older.open("wb") as file:
        np.savez(file, *featurizer._model.deltas)  # how the deltas were stored before
    model = E5SentenceFeaturizer.read_model(older)
    assert model.held_out == {}
    assert all(np.array_equal(a, b) for a, b in zip(model.deltas, featurizer._model.deltas))
    assert len(model.deltas) == len(featurizer._model.deltas)
