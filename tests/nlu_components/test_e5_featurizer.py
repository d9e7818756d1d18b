"""E5SentenceFeaturizer: one normalised sentence vector per message, e-mail addresses masked."""
import numpy as np

from rasa.shared.nlu.training_data.message import Message

from nlu_components.e5_featurizer import E5SentenceFeaturizer


def vector(featurizer, text):
    message = Message(data={"text": text})
    featurizer.process([message])
    _, sentence = message.get_dense_features("text")
    return sentence.features.reshape(-1)


def featurizer(**overrides):
    return E5SentenceFeaturizer.create({**E5SentenceFeaturizer.get_default_config(), **overrides}, None, None, None)


def test_sentence_vector_is_unit_length():
    assert abs(np.linalg.norm(vector(featurizer(), "aggiungi due licenze")) - 1.0) < 1e-3


def test_the_address_does_not_change_the_vector_only_the_words_do():
    e5 = featurizer()
    a = vector(e5, "assegna una licenza a giulia.verdi@acme.it")
    b = vector(e5, "assegna una licenza a paolo_ferri@ferrilogistica.com")
    c = vector(e5, "togli la licenza a giulia.verdi@acme.it")
    assert np.allclose(a, b)
    assert not np.allclose(a, c)


def test_masking_can_be_switched_off():
    e5 = featurizer(mask_emails=False)
    assert not np.allclose(vector(e5, "licenza a giulia@acme.it"), vector(e5, "licenza a paolo@ferri.com"))


def test_an_untrained_featurizer_gives_the_frozen_384_values():
    assert vector(featurizer(), "aggiungi due licenze").shape == (384,)


def test_a_fine_tuned_featurizer_gives_frozen_and_tuned_side_by_side_and_survives_persistence(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.training_data import TrainingData

    storage, resource = LocalModelStorage(tmp_path), Resource("e5")
    config = {**E5SentenceFeaturizer.get_default_config(), "fine_tune_epochs": 1, "fine_tune_batch_size": 4}
    examples = [Message(data={"text": t, "intent": "add_licenses"}) for t in ["aggiungi 2 licenze", "altre tre licenze"]]
    examples += [Message(data={"text": t, "intent": "faq", "intent_response_key": "faq/rinnovo"})
                 for t in ["quando si rinnova?", "data del rinnovo"]]
    trained = E5SentenceFeaturizer.create(config, storage, resource, None)
    trained.train(TrainingData(examples))
    frozen = vector(featurizer(), "togli una licenza")
    tuned = vector(trained, "togli una licenza")
    assert tuned.shape == (768,) and abs(np.linalg.norm(tuned) - 1.0) < 1e-5
    # the first half is the frozen vector (scaled by the joint normalisation)
    assert np.allclose(tuned[:384] / np.linalg.norm(tuned[:384]), frozen, atol=1e-5)

    loaded = E5SentenceFeaturizer.load(config, storage, resource, None)
    assert np.allclose(vector(loaded, "togli una licenza"), tuned, atol=1e-3)


def test_rasa_hands_load_the_trained_resource():
    # Rasa's training graph passes `load` only the arguments its signature names
    # (`minimal_kwargs`); with `*args, **kwargs` the tuned model was never loaded
    from rasa.shared.utils.common import minimal_kwargs

    given = {"config": {}, "model_storage": None, "resource": "r", "execution_context": None,
             "training_data": None}
    assert set(minimal_kwargs(given, E5SentenceFeaturizer.load)) == {
        "config", "model_storage", "resource", "execution_context"}
