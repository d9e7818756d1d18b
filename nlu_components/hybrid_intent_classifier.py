"""Intent classifier on words, characters and the e5 sentence vector together.

The e5 sentence embedding knows that "togline 2" and "aggiungine 2" are both about licence
counts; the word and character n-grams know which verb was used. Either alone was weaker
(docs/nlu.md): an SVM on e5 alone confused upgrade/downgrade and add/remove; sparse
features alone missed paraphrases. Here both are stacked into one sparse matrix:

    TF-IDF(word 1-2 grams) | TF-IDF(char_wb 2-5 grams) | dense_weight * e5 vector
    | direction_weight * plan direction flags

and a linear SVM is trained on it. The plan direction flags carry what neither bag of
words nor embedding sees: which plan is left and which is wanted. "dal Business al Pro"
and "dal Pro al Business" have the same words; with the plans ordered (config
`ordered_plans`) and their spellings taken from the training data's synonyms, the flags
say `plan_down` for the first and `plan_up` for the second. Without a plan name, the level
cues do the same for "un piano più alto" / "un piano più basso", "alzate" / "abbassate".

A training sentence that also carries a held-out sentence vector (attribute `HELD_OUT_TEXT`:
the cross-fitted e5 vector, from an encoder that had not seen it) is learnt twice, once with
each vector: the SVM sees the tuned vector both as sharp as on the sentences it was tuned on
and as rough as on new text.

Scores become probabilities by a softmax with one temperature fitted on out-of-fold SVM scores
(both rows of a sentence in the same fold, and only the held-out rows scored when there are
any: the encoder had seen the others, whose scores look surer than on new text; it can also
be set in the config),
so `FallbackClassifier` thresholds and the two-button disambiguation read real confidences
and the top intent is exactly the SVM's (scikit-learn's `CalibratedClassifierCV` averaged
five SVMs trained on 80 % of the data each and lost 0.008 accuracy in cross-validation).

Text is normalised before the n-grams: lower case, accents removed ("perché"/"perche"),
e-mail addresses -> "EMAIL" and digits -> "0" (which address or number is an entity,
not an intent cue).
"""
from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Text, Type

import numpy as np
import scipy.sparse

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.base import HELD_OUT_TEXT, StoredModelComponent

logger = logging.getLogger(__name__)

# what skops may rebuild from the model file (it refuses anything else)
TRUSTED_TYPES = ["scipy.sparse._csr.csr_matrix"]

_EMAIL = re.compile(r"\S+@\S+")
_DIGITS = re.compile(r"\d+")

# a plan named right after these words is the one being left or compared against
_LEFT_BEFORE = re.compile(
    r"(?:\b(?:da|dal|dallo|dalla)|\bdall'|\bnon pi[uù]|posto del|invece del|invece che|anzich[eé]"
    r"|piuttosto che|rispetto al|oltre il|sopra al|sotto al|superiore al|inferiore al|alto del"
    r"|basso del|sostituzione d(?:el|ello|ella|ell')"
    r"|\b(?:siamo|stiamo|sono|abbiamo|ho|basta)(?:\s+(?:sul|su|il|col|con il|al))?)"
    r"\s*(?:(?:il|l')\s*)?(?:piano\s+)?$"
)
# ... or right before these
_LEFT_AFTER = re.compile(
    r"^\s*(?:non (?:ci |mi )?(?:basta|serve|servono)|costa troppo|(?:è|e) (?:troppo|sprecato)"
    r"|troppo caro|ci va stretto)"
)
# a plan named right after these words is the one wanted
_WANTED_BEFORE = re.compile(
    r"(?:\b(?:a|al|ad|alla|verso|sul|sullo|sulla)|\b(?:all|sull)'|->|→)\s*(?:(?:il|l')\s*)?(?:piano\s+)?$"
)

# direction of a plan change when no plan name decides it ("un piano più alto", "scendiamo di
# livello"), read on normalised text (lower case, no accents)
_LEVEL_UP = re.compile(
    r"\b(?:superior\w*|piu (?:alt[oa]|complet[oa]|avanzat[oa]|potente|car[oa]|grande|ricc[oa])"
    r"|(?:di )?sopra|sal(?:i|ire|iamo|ite|ga)|salto|alz\w*|aument\w* (?:il |di )?livell\w*|potenzi\w*"
    r"|upgrad\w*|miglior\w*|piu funzion\w*|top|fascia (?:piu )?alta|successiv\w*|promuov\w*"
    r"|troppo (?:basic[oa]|limitat[oa]|stretto|poco)|sta stretto|non (?:basta|regge)|limiti piu alti"
    r"|spendere (?:di )?piu)\b"
)
_LEVEL_DOWN = re.compile(
    r"\b(?:inferior\w*|piu (?:bass[oa]|economic[oa]|semplice|essenziale|piccol[oa]|leggero)|(?:di )?sotto"
    r"|scend\w*|abbass\w*|riduc\w*|ridurre|ridimension\w*|declass\w*|downgrad\w*"
    r"|meno (?:car[oa]|costos[oa]|funzion\w*)|fascia (?:piu )?bassa|risparmi\w*|(?:tagliare|contenere) i costi"
    r"|spendere meno|sovradimensionat\w*|esagerat\w*|sprecat\w*|sta largo|troppo car[oa]"
    r"|(?:passo|tornare) indietro|non (?:le |li )?usiamo|minore|limiti piu bassi)\b"
)


def plan_direction(text: Text, spellings: Dict[Text, Text], order: List[Text]) -> Dict[Text, float]:
    """Flags for the plans a message leaves and wants, and the direction when it is certain.

    ``spellings`` maps a lower-case spelling ("biz") to its plan ("business"); ``order``
    lists the plans from the lowest. "il Pro non basta più, passiamo a Business" ->
    {left_pro, wanted_business, plan_up}.
    """
    if not spellings:
        return {}
    lowered = text.lower().replace("\u2019", "'")
    pattern = r"(?<![\w@.-])(" + "|".join(sorted(map(re.escape, spellings), key=len, reverse=True)) + r")(?![\w@-])"
    mentions = []
    for match in re.finditer(pattern, lowered):
        if re.match(r"\s*-?\s*(?:rata|quota)\b", lowered[match.end():]):  # "pro rata"
            continue
        before, after = lowered[: match.start()], lowered[match.end():]
        if _LEFT_BEFORE.search(before) or _LEFT_AFTER.search(after):
            role = "left"
        elif _WANTED_BEFORE.search(before):
            role = "wanted"
        else:
            role = "named"
        mentions.append((spellings[match.group(1)], role))
    left = [plan for plan, role in mentions if role == "left"]
    wanted = [plan for plan, role in mentions if role == "wanted"]
    if left and not wanted:  # "vorremmo l'Enterprise anziché il Business"
        wanted = [plan for plan, role in mentions if role == "named" and plan not in left]
    elif wanted and not left:  # "enterprise -> biz"
        left = [plan for plan, role in mentions if role == "named" and plan not in wanted]
    flags = {f"left_{plan}": 1.0 for plan in left}
    flags.update({f"wanted_{plan}": 1.0 for plan in wanted})
    rank = {plan: i for i, plan in enumerate(order)}
    lowest, highest = order[0], order[-1]
    up = (left and wanted and rank[wanted[-1]] > rank[left[0]]) or highest in wanted or lowest in left
    down = (left and wanted and rank[wanted[-1]] < rank[left[0]]) or lowest in wanted or highest in left
    if up and not down:
        flags["plan_up"] = 1.0
    if down and not up:
        flags["plan_down"] = 1.0
    return flags


def level_cues(normalised: Text) -> Dict[Text, float]:
    """`level_up` / `level_down` for the words that move a plan up or down (both may be set)."""
    flags = {}
    if _LEVEL_UP.search(normalised):
        flags["level_up"] = 1.0
    if _LEVEL_DOWN.search(normalised):
        flags["level_down"] = 1.0
    return flags


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature``."""
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def class_scores(scores: np.ndarray) -> np.ndarray:
    """SVM decision values as one column per class (scikit-learn gives one column for two classes)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        return np.column_stack([-scores, scores])
    return scores


def fit_temperature(scores: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> float:
    """The temperature that makes softmax(scores / T) the most likely for the true labels."""
    from scipy.optimize import minimize_scalar

    index = {label: i for i, label in enumerate(classes)}
    truth = np.array([index[label] for label in labels])

    def negative_log_likelihood(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    return float(np.exp(minimize_scalar(negative_log_likelihood, bounds=(-6.0, 3.0), method="bounded").x))


def normalise(text: Text) -> Text:
    """Lower case, no accents, e-mails and digits replaced by placeholders."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _EMAIL.sub(" EMAIL ", text)
    return _DIGITS.sub(" 0 ", text)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class HybridIntentClassifier(StoredModelComponent, IntentClassifier):
    """Linear SVM on TF-IDF word and character n-grams plus the dense sentence vector."""

    MODEL_FILE = "hybrid_intent_classifier.skops"

    @classmethod
    def required_components(cls) -> List[Type]:
        return [DenseFeaturizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "word_ngrams": [1, 2],
            "char_ngrams": [2, 5],
            # a character n-gram must occur in >= this many examples to become a feature
            "char_min_df": 2,
            # weight of the (L2-normalised) dense vector against the TF-IDF blocks;
            # 3 was best in cross-validation (docs/nlu.md)
            "dense_weight": 3.0,
            # plans from the lowest; their spellings come from the training data's synonyms
            "ordered_plans": ["pro", "business", "enterprise"],
            # spellings of plans that are not entity synonyms: "il piano base" is the Pro
            "plan_aliases": {"base": "pro"},
            # weight of the plan direction flags and of the level cues
            "direction_weight": 3.0,
            "level_weight": 2.0,
            "C": 1.0,
            # the softmax temperature; None = fitted on out-of-fold scores of the training data
            "temperature": None,
            # folds of the out-of-fold scores the softmax temperature is fitted on
            "calibration_folds": 5,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops"]

    # -- features -------------------------------------------------------------

    @staticmethod
    def _dense(message: Message, attribute: Text = TEXT) -> np.ndarray:
        _, sentence = message.get_dense_features(attribute)
        if sentence is None:
            raise ValueError(
                "HybridIntentClassifier needs a dense sentence feature "
                "(put E5SentenceFeaturizer before it in the pipeline)."
            )
        return np.asarray(sentence.features, dtype=np.float64).reshape(-1)

    def _features(self, messages: List[Message], dense_attribute: Text = TEXT) -> scipy.sparse.csr_matrix:
        texts = [normalise(m.get(TEXT) or "") for m in messages]
        dense = np.vstack([self._dense(m, dense_attribute) for m in messages])
        directions = [
            plan_direction(m.get(TEXT) or "", self._model["plan_spellings"], self._config["ordered_plans"])
            for m in messages
        ]
        return scipy.sparse.hstack(
            [
                self._model["words"].transform(texts),
                self._model["chars"].transform(texts),
                scipy.sparse.csr_matrix(dense * float(self._config["dense_weight"])),
                self._model["directions"].transform(directions) * float(self._config["direction_weight"]),
                self._model["levels"].transform([level_cues(t) for t in texts]) * float(self._config["level_weight"]),
            ]
        ).tocsr()

    def _plan_spellings(self, training_data: TrainingData) -> Dict[Text, Text]:
        plans = set(self._config["ordered_plans"])
        spellings = {plan: plan for plan in plans}
        spellings.update(
            {spelling.lower(): value for spelling, value in training_data.entity_synonyms.items() if value in plans}
        )
        spellings.update({alias.lower(): plan for alias, plan in self._config["plan_aliases"].items()})
        return spellings

    # -- training ---------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        labels = np.array([m.get(INTENT) for m in examples])
        if len(set(labels)) < 2:
            logger.warning("HybridIntentClassifier needs at least two intents; not trained.")
            return self._resource

        texts = [normalise(m.get(TEXT)) for m in examples]
        words = TfidfVectorizer(
            ngram_range=tuple(self._config["word_ngrams"]), sublinear_tf=True
        ).fit(texts)
        chars = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=tuple(self._config["char_ngrams"]),
            min_df=int(self._config["char_min_df"]),
            sublinear_tf=True,
        ).fit(texts)
        spellings = self._plan_spellings(training_data)
        directions = DictVectorizer().fit(
            [plan_direction(m.get(TEXT), spellings, self._config["ordered_plans"]) for m in examples]
            + [{"plan_up": 1.0, "plan_down": 1.0}]  # both columns exist even if the data lacks one
        )
        levels = DictVectorizer().fit([{"level_up": 1.0, "level_down": 1.0}])
        self._model = {
            "words": words, "chars": chars, "directions": directions, "levels": levels, "plan_spellings": spellings,
        }

        # sentences with a held-out sentence vector (cross-fitted e5) are learnt twice: with the
        # vector of the encoder tuned on them and with one from an encoder that had not seen them
        twice = [i for i, m in enumerate(examples) if m.get_dense_features(HELD_OUT_TEXT)[1] is not None]
        features = scipy.sparse.vstack(
            [self._features(examples)] + ([self._features([examples[i] for i in twice], HELD_OUT_TEXT)] if twice else [])
        ).tocsr()
        rows = np.concatenate([np.arange(len(examples)), np.array(twice, dtype=int)])
        logger.info(f"HybridIntentClassifier: {len(examples)} sentences, {len(twice)} of them also with a held-out vector")
        classifier = LinearSVC(C=float(self._config["C"])).fit(features, labels[rows])
        self._model["classifier"] = classifier
        temperature = self._config["temperature"]
        if temperature is None:
            temperature = self._fitted_temperature(features, labels[rows], rows, honest=len(examples) if twice else 0)
        self._model["temperature"] = float(temperature)
        self.persist()
        return self._resource

    def _fitted_temperature(self, features, labels: np.ndarray, sentences: np.ndarray, honest: int) -> float:
        """Fitted on out-of-fold scores; both rows of a sentence stay in the same fold.

        Only rows from `honest` on (those with held-out vectors, if any) are scored: the tuned
        encoder has seen the other rows' sentences and would make the scores look too sure.
        """
        from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
        from sklearn.svm import LinearSVC

        smallest_class = min(np.sum(labels == label) for label in set(labels))
        folds = max(2, min(int(self._config["calibration_folds"]), int(smallest_class)))
        out_of_fold = cross_val_predict(
            LinearSVC(C=float(self._config["C"])),
            features,
            labels,
            groups=sentences,
            cv=StratifiedGroupKFold(folds, shuffle=True, random_state=0),
            method="decision_function",
        )
        return fit_temperature(class_scores(out_of_fold)[honest:], labels[honest:], np.array(sorted(set(labels))))

    # -- inference --------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self._model is None or not message.get(TEXT):
                intent, ranking = None, []
            else:
                classifier = self._model["classifier"]
                scores = class_scores(classifier.decision_function(self._features([message])))
                probabilities = softmax(scores, self._model["temperature"])[0]
                order = np.argsort(probabilities)[::-1]
                ranking = [
                    {"name": str(classifier.classes_[i]), "confidence": float(probabilities[i])}
                    for i in order[:LABEL_RANKING_LENGTH]
                ]
                intent = ranking[0]
            message.set("intent", intent or {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    # -- persistence --------------------------------------------------------------

    def write_model(self, path: Path) -> None:
        import skops.io as sio

        sio.dump(self._model, path)

    @classmethod
    def read_model(cls, path: Path) -> Dict[Text, Any]:
        import skops.io as sio

        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
        if untrusted:
            raise ValueError(f"untrusted types in {path}: {sorted(untrusted)}")
        return sio.load(path, trusted=TRUSTED_TYPES)
