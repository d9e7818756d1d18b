"""HybridIntentClassifier: words, characters and the dense vector decide together."""
import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.hybrid_intent_classifier import (
    HybridIntentClassifier,
    class_scores,
    fit_temperature,
    level_cues,
    normalise,
    plan_direction,
    softmax,
)

ADD = ["aggiungi 2 licenze", "aggiungine tre", "servono altre licenze", "licenze in più",
       "aggiungere cinque licenze", "comprare altre 4 licenze"]
REMOVE = ["togli 2 licenze", "togline tre", "licenze in meno", "rimuovi cinque licenze",
          "togliere 4 licenze", "elimina due licenze"]
GREET = ["ciao", "buongiorno", "salve", "buonasera", "ehi ciao", "buondì"]


def message(text, intent=None, vector=None):
    data = {"text": text}
    if intent:
        data["intent"] = intent
    m = Message(data=data)
    # the same dense vector for every licence sentence: only words and characters can
    # separate adding from removing, as with the real e5 vector's near-identical embeddings
    dense = vector if vector is not None else np.ones(8) / np.sqrt(8)
    m.add_features(Features(dense.reshape(1, -1), "sentence", "text", "e5"))
    return m


@pytest.fixture
def trained(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("hybrid")
    config = {**HybridIntentClassifier.get_default_config(), "char_min_df": 1}
    classifier = HybridIntentClassifier.create(config, storage, resource, None)
    greet_vector = np.eye(8)[0]
    examples = ([message(t, "add_licenses") for t in ADD] + [message(t, "remove_licenses") for t in REMOVE]
                + [message(t, "greet", greet_vector) for t in GREET])
    classifier.train(TrainingData(examples))
    return config, storage, resource, classifier


def predict(classifier, text, vector=None):
    m = message(text, vector=vector)
    classifier.process([m])
    return m


def test_verbs_separate_sentences_with_the_same_dense_vector(trained):
    *_, classifier = trained
    assert predict(classifier, "aggiungi sei licenze").get("intent")["name"] == "add_licenses"
    assert predict(classifier, "togli sei licenze").get("intent")["name"] == "remove_licenses"


def test_ranking_is_a_probability_distribution_sorted_by_confidence(trained):
    *_, classifier = trained
    ranking = predict(classifier, "togline due").get("intent_ranking")
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert {r["name"] for r in ranking} == {"add_licenses", "remove_licenses", "greet"}


def test_the_trained_model_survives_persistence(trained):
    config, storage, resource, classifier = trained
    loaded = HybridIntentClassifier.load(config, storage, resource, None)
    text = "servono altre due licenze"
    assert predict(loaded, text).get("intent") == predict(classifier, text).get("intent")


def test_an_untrained_classifier_predicts_nothing(tmp_path):
    storage = LocalModelStorage(tmp_path)
    classifier = HybridIntentClassifier.load(
        HybridIntentClassifier.get_default_config(), storage, Resource("missing"), None)
    m = predict(classifier, "ciao")
    assert m.get("intent")["name"] is None and m.get("intent_ranking") == []


def test_normalise_hides_accents_addresses_and_digits():
    assert normalise("Perché 12 licenze a Mario.Rossi@acme.it?") == "perche  0  licenze a  EMAIL "


PLANS = ["pro", "business", "enterprise"]
SPELLINGS = {"pro": "pro", "business": "business", "biz": "business", "enterprise": "enterprise", "base": "pro"}


@pytest.mark.parametrize(
    "text, direction",
    [
        ("passa dal Pro al Business", "plan_up"),
        ("passa dal Business al Pro", "plan_down"),
        ("dal biz all'Enterprise", "plan_up"),
        ("vorremmo l'Enterprise anziché il Business", "plan_up"),
        ("al posto del Business mettete il Pro", "plan_down"),
        ("il Pro non basta più, passiamo a Business", "plan_up"),
        ("torniamo al Pro", "plan_down"),
        ("passiamo a Enterprise", "plan_up"),
        ("rimettici sul Pro", "plan_down"),
        ("enterprise → biz", "plan_down"),
        ("chiediamo il piano Business in sostituzione dell'Enterprise", "plan_down"),
        # "il piano base" is the Pro (config plan_aliases)
        ("passare dal piano base al Business", "plan_up"),
        ("passare dal Business al piano base", "plan_down"),
    ],
)
def test_plan_direction_when_the_plans_say_it(text, direction):
    flags = plan_direction(text, SPELLINGS, PLANS)
    assert direction in flags and ({"plan_up", "plan_down"} - {direction}).isdisjoint(flags)


@pytest.mark.parametrize("text", ["passiamo al Business", "cos'è il pro rata?", "quanto costa il piano?"])
def test_no_direction_when_the_plans_do_not_say_it(text):
    flags = plan_direction(text, SPELLINGS, PLANS)
    assert "plan_up" not in flags and "plan_down" not in flags



@pytest.mark.parametrize(
    "text, cue",
    [
        ("vorrei un piano più alto", "level_up"),
        ("alzate il nostro abbonamento di un gradino", "level_up"),
        ("ci serve un abbonamento di fascia più alta", "level_up"),
        ("vorrei un piano più essenziale", "level_down"),
        ("abbassate il nostro abbonamento di un gradino", "level_down"),
        ("volevo passare al livello sotto quello attuale", "level_down"),
        ("per contenere i costi, un abbonamento di livello inferiore", "level_down"),
    ],
)
def test_level_cues_tell_the_direction_without_a_plan_name(text, cue):
    flags = level_cues(normalise(text))
    assert flags == {cue: 1.0}


def test_no_level_cue_in_a_sentence_that_moves_nothing():
    assert level_cues(normalise("quante licenze abbiamo?")) == {}


def test_the_temperature_sharpens_scores_that_are_right_and_softens_scores_that_are_wrong():
    classes = np.array(["a", "b"])
    scores = np.array([[1.0, -1.0], [-1.0, 1.0]] * 20)
    always_right = np.array(["a", "b"] * 20)
    half_wrong = np.array(["a", "b"] * 10 + ["b", "a"] * 10)
    assert fit_temperature(scores, always_right, classes) < 0.1
    assert fit_temperature(scores, half_wrong, classes) > 10
    # a softmax keeps the order of the scores: the top intent is the SVM's
    probabilities = softmax(np.array([[0.2, 1.5, -0.3]]), 0.7)
    assert probabilities.argmax() == 1 and probabilities.sum() == pytest.approx(1.0)


def test_two_class_scores_become_one_column_per_class():
    assert class_scores(np.array([0.5, -2.0])).tolist() == [[-0.5, 0.5], [2.0, -2.0]]


def test_a_two_intent_model_ranks_both(tmp_path):
    storage = LocalModelStorage(tmp_path)
    config = {**HybridIntentClassifier.get_default_config(), "char_min_df": 1}
    classifier = HybridIntentClassifier.create(config, storage, Resource("two"), None)
    classifier.train(TrainingData([message(t, "add_licenses") for t in ADD]
                                  + [message(t, "remove_licenses") for t in REMOVE]))
    ranking = predict(classifier, "togli sei licenze").get("intent_ranking")
    assert ranking[0]["name"] == "remove_licenses"
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_plan_spellings_come_from_the_synonyms_and_the_aliases(tmp_path):
    classifier = HybridIntentClassifier.create(
        HybridIntentClassifier.get_default_config(), LocalModelStorage(tmp_path), Resource("s"), None)
    spellings = classifier._plan_spellings(TrainingData(entity_synonyms={"Biz": "business", "annuo": "annual"}))
    assert spellings["biz"] == "business" and spellings["base"] == "pro" and "annuo" not in spellings


def test_a_temperature_in_the_config_replaces_the_fitted_one(tmp_path):
    examples = [message(t, "add_licenses") for t in ADD] + [message(t, "remove_licenses") for t in REMOVE]
    confidences = {}
    for temperature in (0.1, 1.0):
        config = {**HybridIntentClassifier.get_default_config(), "char_min_df": 1, "temperature": temperature}
        classifier = HybridIntentClassifier.create(config, LocalModelStorage(tmp_path),
                                                   Resource(f"hybrid-{temperature}"), None)
        classifier.train(TrainingData(examples))
        assert classifier._model["temperature"] == temperature
        confidences[temperature] = predict(classifier, "togline due").get("intent")["confidence"]
    # the same SVM scores, sharper at the lower temperature
    assert confidences[0.1] > confidences[1.0] > 0.5


def test_sentences_with_a_held_out_vector_are_learnt_twice_and_calibrate_the_temperature(tmp_path):
    # the text says nothing ("messaggio 0" after normalisation); the tuned vectors separate the
    # two intents perfectly, as for sentences the encoder was tuned on; the held-out vectors
    # (from encoders that had not seen the sentences) point the wrong way for 1 in 4
    from nlu_components.base import HELD_OUT_TEXT

    def examples(with_held_out):
        result = []
        for i in range(24):
            intent, right, wrong = ("a", 0, 1) if i % 2 else ("b", 1, 0)
            m = message(f"messaggio {i}", intent, np.eye(8)[right])
            if with_held_out:
                held_out = np.eye(8)[wrong if i % 8 < 2 else right]
                m.add_features(Features(held_out.reshape(1, -1), "sentence", HELD_OUT_TEXT, "e5"))
            result.append(m)
        return result

    confidences = {}
    for with_held_out in (False, True):
        config = {**HybridIntentClassifier.get_default_config(), "char_min_df": 1}
        classifier = HybridIntentClassifier.create(config, LocalModelStorage(tmp_path),
                                                   Resource(f"held-out-{with_held_out}"), None)
        classifier.train(TrainingData(examples(with_held_out)))
        intent = predict(classifier, "messaggio 99", np.eye(8)[0]).get("intent")
        assert intent["name"] == "a"
        confidences[with_held_out] = intent["confidence"]
    # calibrated on the held-out rows only, the confidence says what they say: right 3 times
    # in 4, not "certain" as the rows of sentences the encoder had seen would make it
    assert confidences[False] > 0.99
    assert 0.6 < confidences[True] < 0.75
