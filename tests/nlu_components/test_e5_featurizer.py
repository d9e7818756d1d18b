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
