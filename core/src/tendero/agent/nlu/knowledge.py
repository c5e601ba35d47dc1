"""Answers to a shopper's side question in the store's own words, by sentence retrieval.

The merchant writes about the store (``company.business_context``), the return policy,
the locations (name, address, hours) and each product (name, description, attributes).
:meth:`StoreKnowledge.answer` finds the one or two sentences of those texts that answer
a question ("tienen garantia??", "is the leather real", "a q hora cierran el domingo")
and returns them as written. It never writes an answer of its own: when no sentence is
about what was asked it returns None, and the agent offers a person instead.

How a question meets a sentence:

1. Both are cut into words after accent and case folding, and each word becomes a key:
   its lemma (``simplemma``, Spanish then English dictionaries) made singular-ish by
   :func:`tendero.catalog.text.stem`, so "cierran" and "cerramos", "boots" and "boot",
   "días" and "dias" meet.
2. Words and phrases of a topic (:data:`~tendero.agent.nlu.knowledge_vocab.TOPICS`)
   become the topic instead, in either language: "leather" ~ "piel", "refund" ~
   "devolución", "gift card" ~ "tarjeta de regalo" (and not "tarjeta").
3. Stopwords are dropped; generic words ("tienda", "venden", "price") count a little
   but never on their own.
4. Sentences are scored with BM25 over the question's keys. Return-policy sentences are
   about returns, location lines about where the store is or when it opens, even when
   they do not say so.
5. A sentence is an answer only when it shares a meaningful key with the question,
   covers more than half of the question's topics, and scores at least
   :data:`MIN_SCORE`; and only when every topic the question asks about appears
   somewhere in the store's texts ("is the leather real?" gets nothing from a shop
   that never mentions leather, however "100% authentic" its products are). Day names,
   prices and the like only narrow a question (``MODIFIER_TOPICS``): "do you open on
   Sundays?" is answered by "Mon-Sat 9-6". A question with no other topic that asks a
   price or names only products ("¿tienen botas?") is the catalog's, not answered here.
6. A product's sentences answer only for a product in focus (``product_ids``, boosted)
   or for a product the question names; the product's own name words do not count as
   the match ("¿las botas tienen garantía?" is not answered by "Botas de piel").

Build once per settings version and catalog version (the caller caches the result);
:meth:`StoreKnowledge.answer` takes well under a millisecond.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from simplemma import Lemmatizer, split_sentences
from simplemma.strategies import LOW_MEMORY_DICTIONARY_FACTORY, DictionaryLookupStrategy

from tendero.agent.nlu.knowledge_vocab import (
    DROP_PHRASES,
    GENERIC_WORDS,
    MODIFIER_TOPICS,
    PHRASE_FILLERS,
    STOPWORDS,
    TOPICS,
)
from tendero.catalog.text import stem
from tendero.text import fold

Source = Literal["business", "returns", "location", "product"]

# BM25 (Robertson and Spärck Jones).
K1 = 1.2
B = 0.5  # sentences are short: length matters less than in whole documents
# A generic word counts this much of a meaningful one.
GENERIC_WEIGHT = 0.3
# What a sentence gets for being about its section without saying so (BM25 gives up to
# K1 + 1 for a word it says): a location line is its address or its hours, while a
# return-policy sentence that says "refund" beats one that only sits in the policy.
LOCATION_WEIGHT = 1.5
RETURNS_WEIGHT = 0.5
# A product the question names without it being in focus: its sentences count this
# much, plus the rest in proportion to how much of its name the question says.
NAMED_PRODUCT_WEIGHT = 0.5
# A word of the catalog's product names ("botas") says what the question is about, not
# what it asks: it counts this much of another meaningful word.
CATALOG_WORD_WEIGHT = 0.5
# A sentence of a product in focus beats an equally good sentence about the store.
FOCUS_BOOST = 2.0
# Below this a sentence is not an answer, whatever it shares with the question.
MIN_SCORE = 0.5
# A second sentence of the same source is added when it scores this share of the best.
SECOND_SHARE = 0.6
# Questions longer than this many words are read up to here.
MAX_QUESTION_WORDS = 60

_LANGS = ("es", "en")
_WORD_RE = re.compile(r"[a-z0-9]+")
_APOSTROPHES = re.compile(r"['`´]")
_BULLET_RE = re.compile(r"^\s*(?:[-*•·–—>]+|\d{1,2}[.)])\s+")
_ENDS_SENTENCE = tuple(".!?…;")
_TOPIC_PREFIX = "@"
_RETURNS = _TOPIC_PREFIX + "returns"
_WHERE = _TOPIC_PREFIX + "where"
_HOURS = _TOPIC_PREFIX + "hours"
_PRICE = _TOPIC_PREFIX + "price"


# --- words -> keys --------------------------------------------------------------------


@lru_cache(maxsize=1)
def _lemmatizer() -> Lemmatizer:
    # Dictionary lookup only (no affix or rule guessing): predictable, and a word the
    # dictionaries do not know costs microseconds. The low-memory backend keeps the
    # Spanish and English dictionaries at about 20 MB instead of about 120 MB.
    return Lemmatizer(
        cache_max_size=0,  # _base_key caches
        lemmatization_strategy=DictionaryLookupStrategy(LOW_MEMORY_DICTIONARY_FACTORY),
    )


def _words(text: str) -> list[str]:
    """Folded words: "¿Tienen garantía??" -> ["tienen", "garantia"]; "what's" -> "whats"."""
    return _WORD_RE.findall(_APOSTROPHES.sub("", fold(text)))


@lru_cache(maxsize=65_536)
def _base_key(word: str) -> str:
    """The key of a folded word before topics: its lemma, folded, made singular-ish."""
    if not word.isalpha():
        return word
    lemma = _lemmatizer().lemmatize(word, _LANGS)
    lemma = "".join(_WORD_RE.findall(fold(lemma))) or word
    return stem(lemma)


@dataclass(frozen=True, slots=True)
class _Term:
    """One word (or phrase) of a text: the keys it stands for and how much it counts."""

    keys: tuple[str, ...]
    meaningful: bool
    subject: bool = False  # a topic that says what the question is about


class _Vocabulary:
    """The topic, stopword and generic lists turned into lookups over keys."""

    def __init__(self) -> None:
        words: dict[str, set[str]] = {}  # folded word or its stem -> topics
        keys: dict[str, set[str]] = {}  # base key -> topics
        phrases: dict[tuple[str, ...], set[str]] = {}
        for topic, listed in TOPICS.items():
            for entry in _entries(listed):
                self._add(entry, {_TOPIC_PREFIX + topic}, words, keys, phrases)
        for entry in _entries(DROP_PHRASES):
            self._add(entry, set(), words, keys, phrases)
        self.word_topics = {w: self._topic_term(t) for w, t in words.items()}
        self.key_topics = {k: self._topic_term(t) for k, t in keys.items()}
        self.phrases: dict[str, list[tuple[tuple[str, ...], _Term | None]]] = {}
        for phrase, topics in sorted(phrases.items(), key=lambda item: -len(item[0])):
            term = self._topic_term(topics) if topics else None
            self.phrases.setdefault(phrase[0], []).append((phrase, term))
        self.stop_keys = frozenset(_base_key(w) for w in STOPWORDS)
        self.generic = frozenset(GENERIC_WORDS) | frozenset(_base_key(w) for w in GENERIC_WORDS)

    @staticmethod
    def _topic_term(topics: set[str]) -> _Term:
        subject = any(t.removeprefix(_TOPIC_PREFIX) not in MODIFIER_TOPICS for t in topics)
        return _Term(tuple(sorted(topics)), True, subject)

    @staticmethod
    def _add(
        entry: str,
        topics: set[str],
        words: dict[str, set[str]],
        keys: dict[str, set[str]],
        phrases: dict[tuple[str, ...], set[str]],
    ) -> None:
        parts = [w for w in _words(entry) if w not in PHRASE_FILLERS]
        if len(parts) > 1:
            phrases.setdefault(tuple(_base_key(w) for w in parts), set()).update(topics)
        elif parts and topics:
            word = parts[0]
            for form in (word, stem(word)):
                words.setdefault(form, set()).update(topics)
            keys.setdefault(_base_key(word), set()).update(topics)

    def term(self, word: str) -> _Term | None:
        """The term of one folded word outside any phrase; None for a stopword."""
        topic = self.word_topics.get(word) or self.word_topics.get(stem(word))
        if topic is not None:
            return topic
        if len(word) == 1 and not word.isdigit():
            return None  # "q", "u", "k": chat shorthand, never a topic
        if word in STOPWORDS:
            return None
        key = _base_key(word)
        topic = self.key_topics.get(key)
        if topic is not None:
            return topic
        if key in self.stop_keys:
            return None
        return _Term((key,), word not in self.generic and key not in self.generic)


def _entries(listed: str) -> Iterator[str]:
    for entry in listed.split(","):
        if entry.strip():
            yield entry.strip()


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    return _Vocabulary()


def _terms(text: str, limit: int | None = None) -> list[_Term]:
    """The terms of ``text``: phrases first (longest wins), then single words."""
    vocabulary = _vocabulary()
    words = [w for w in _words(text) if w not in PHRASE_FILLERS]
    if limit is not None:
        words = words[:limit]
    keys = [_base_key(w) for w in words]
    terms: list[_Term] = []
    i = 0
    while i < len(words):
        for phrase, topic in vocabulary.phrases.get(keys[i], ()):
            if tuple(keys[i : i + len(phrase)]) == phrase:
                if topic is not None:
                    terms.append(topic)
                i += len(phrase)
                break
        else:
            term = vocabulary.term(words[i])
            if term is not None:
                terms.append(term)
            i += 1
    return terms


# --- sentences --------------------------------------------------------------------------


def split_text(text: str) -> list[str]:
    """The sentences of a merchant's text, as written.

    Lines are kept apart (merchants write lists), except that a line continuing a
    sentence ("... a todo\\nel país") joins the one before, and a heading line ending in
    a colon ("Horario:") joins the line after it. Bullets are dropped. Each block is
    then cut into sentences by ``simplemma.split_sentences``.
    """
    blocks: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = _BULLET_RE.sub("", raw).strip()
        if not line:
            if current:
                blocks.append(current)
            current = ""
            continue
        continues = current and not current.endswith(_ENDS_SENTENCE) and line[:1].islower()
        if current and (current.endswith(":") or continues):
            current = f"{current} {line}"
        else:
            if current:
                blocks.append(current)
            current = line
    if current:
        blocks.append(current)
    return [
        sentence
        for block in blocks
        for sentence in split_sentences(block)
        if _WORD_RE.search(fold(sentence))
    ]


@dataclass(frozen=True, slots=True)
class Answer:
    """The store's own sentences that answer a question."""

    sentences: list[str]  # one or two, in the order the merchant wrote them
    source: Source
    score: float
    product_id: int | None = None

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    source: Source
    product_id: int | None
    counts: Mapping[str, int]  # key -> times it appears
    length: int
    section: tuple[str, ...]  # keys the sentence is about by where it was written
    section_weight: float
    kind: str  # sentences of one kind are compared for length


def _field(item: Any, name: str, default: Any = "") -> Any:
    """A field of a dict-like or an object (a settings model, an IndexRow)."""
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _sentence(
    text: str,
    source: Source,
    product_id: int | None = None,
    *,
    section: str = "",
    section_weight: float = 0.0,
    unsaid: str = "",
    kind: str = "",
) -> _Sentence:
    counts: Counter[str] = Counter()
    length = 0
    for term in _terms(text):
        length += 1
        counts.update(term.keys)
    counts.pop(unsaid, None)
    sections = (section,) if section else ()
    return _Sentence(
        text, source, product_id, counts, length, sections, section_weight, kind or source
    )


class StoreKnowledge:
    """An immutable sentence index over one store's texts (see the module docstring)."""

    def __init__(
        self, sentences: Sequence[_Sentence], names: Mapping[int, frozenset[str]] | None = None
    ) -> None:
        self._sentences = list(sentences)
        # Lengths are compared within a kind: attribute lines ("color: negro") are much
        # shorter than descriptions, and would make every description look long.
        lengths: dict[str, list[int]] = {}
        for sentence in self._sentences:
            lengths.setdefault(sentence.kind, []).append(sentence.length)
        average = {kind: max(1.0, sum(v) / len(v)) for kind, v in lengths.items()}
        self._postings: dict[str, list[tuple[int, float]]] = {}
        # Document frequency counts distinct texts: the same description repeated on
        # twenty sizes of one shoe does not make its words common.
        texts: dict[str, set[str]] = {}
        for sid, sentence in enumerate(self._sentences):
            norm = K1 * (1 - B + B * sentence.length / average[sentence.kind])
            for key, tf in sentence.counts.items():
                self._postings.setdefault(key, []).append((sid, tf * (K1 + 1) / (tf + norm)))
                texts.setdefault(key, set()).add(sentence.text)
            for key in sentence.section:
                if key not in sentence.counts:
                    self._postings.setdefault(key, []).append((sid, sentence.section_weight))
                    texts.setdefault(key, set()).add(sentence.text)
        distinct = len({sentence.text for sentence in self._sentences})
        self._idf = {
            key: math.log(1 + (distinct - len(seen) + 0.5) / (len(seen) + 0.5))
            for key, seen in texts.items()
        }
        # A product is named by the meaningful plain words of its name (not its topics:
        # "piel" in a name does not name the product).
        self._name_keys = dict(names or {})
        self._product_of = [sentence.product_id for sentence in self._sentences]
        self._named_by: dict[str, list[int]] = {}
        for product_id, keys in self._name_keys.items():
            for key in keys:
                self._named_by.setdefault(key, []).append(product_id)

    @classmethod
    def build(
        cls,
        business_context: str = "",
        return_policy: str = "",
        locations: Iterable[Any] = (),
        products: Iterable[Any] = (),
    ) -> StoreKnowledge:
        """Index the store's texts.

        ``locations`` are dicts (or models) with ``name``, ``address`` and ``hours``;
        ``products`` have ``id``, ``name``, ``description`` and ``attributes`` (a
        mapping), like :class:`tendero.catalog.search.IndexRow`.
        """
        _vocabulary()  # load the word lists (and the dictionaries) once, here
        sentences = [_sentence(s, "business") for s in split_text(business_context or "")]
        sentences += [
            _sentence(s, "returns", section=_RETURNS, section_weight=RETURNS_WEIGHT)
            for s in split_text(return_policy or "")
        ]
        for location in locations:
            name = str(_field(location, "name") or "").strip()
            label = f"{name}: " if name else ""
            # The address line is where the store is, the hours line when it is open,
            # whatever the location's name says ("Sucursal Centro" names a branch).
            for field, section, unsaid in (("address", _WHERE, _HOURS), ("hours", _HOURS, _WHERE)):
                value = str(_field(location, field) or "").strip()
                if value:
                    sentences.append(
                        _sentence(
                            label + value,
                            "location",
                            section=section,
                            section_weight=LOCATION_WEIGHT,
                            unsaid=unsaid,
                        )
                    )
        names: dict[int, frozenset[str]] = {}
        for product in products:
            product_id = int(_field(product, "id"))
            names[product_id] = frozenset(
                key
                for term in _terms(str(_field(product, "name") or ""))
                if term.meaningful
                for key in term.keys
                if not key.startswith(_TOPIC_PREFIX)
            )
            texts = split_text(str(_field(product, "description") or ""))
            attributes = _field(product, "attributes", None) or {}
            sentences += [_sentence(text, "product", product_id) for text in texts]
            for attr, value in attributes.items():
                if str(value).strip():
                    line = f"{attr}: {value}"
                    sentences.append(_sentence(line, "product", product_id, kind="attribute"))
        return cls(sentences, names)

    def __len__(self) -> int:
        return len(self._sentences)

    def answer(self, question: str, product_ids: Iterable[int] | None = None) -> Answer | None:
        """The one or two sentences that answer ``question``, or None when none does.

        ``product_ids`` are the products in focus (shown last, in the cart): their
        descriptions are preferred, and only they (and products the question names)
        can answer from a product description.
        """
        ranked = self._rank(question, frozenset(product_ids or ()))
        if not ranked:
            return None
        best_score, best_sid = ranked[0]
        first = self._sentences[best_sid]
        chosen = [best_sid]
        for score, sid in ranked[1:]:
            other = self._sentences[sid]
            if score < SECOND_SHARE * best_score:
                break
            if other.source == first.source and other.product_id == first.product_id:
                if other.text != first.text:
                    chosen.append(sid)
                    break
        return Answer(
            sentences=[self._sentences[sid].text for sid in sorted(chosen)],
            source=first.source,
            score=round(best_score, 3),
            product_id=first.product_id,
        )

    def _rank(self, question: str, focus: frozenset[int]) -> list[tuple[float, int]]:
        """(score, sentence index) of every sentence that may answer, best first."""
        terms = _unique(_terms(question, limit=MAX_QUESTION_WORDS))
        if not any(term.meaningful for term in terms):
            return []
        subjects = [term for term in terms if term.subject]
        if any(not any(key in self._idf for key in term.keys) for term in subjects):
            return []  # asks about something the store never writes about
        if not subjects and self._asks_the_catalog(terms):
            return []
        # A sentence must cover more than half of the question's topics ("aceptan
        # tarjeta" wants a sentence about paying by card, not any sentence about paying).
        needed = len(subjects) // 2 + 1 if subjects else 0
        asked = frozenset(key for term in terms if term.meaningful for key in term.keys)
        # Products whose sentences may answer, and how much those count: the products in
        # focus, and the products the question names, by how much of the name it says.
        named: Counter[int] = Counter()
        for key in asked:
            named.update(self._named_by.get(key, ()))
        factor = {
            product_id: NAMED_PRODUCT_WEIGHT
            + (1 - NAMED_PRODUCT_WEIGHT) * count / len(self._name_keys[product_id])
            for product_id, count in named.items()
        }
        factor.update(dict.fromkeys(focus, FOCUS_BOOST))
        product_of = self._product_of
        scores: dict[int, float] = {}
        hits: dict[int, int] = {}  # meaningful terms matched, a product's name aside
        covered: dict[int, int] = {}  # subject topics matched
        for term in terms:
            best: dict[int, tuple[float, str]] = {}
            for key in term.keys:
                idf = self._idf.get(key)
                if idf is None:
                    continue
                for sid, weight in self._postings[key]:
                    product_id = product_of[sid]
                    if product_id is not None and product_id not in factor:
                        continue  # another product, not named in the question
                    score = idf * weight
                    if score > best.get(sid, (0.0, ""))[0]:
                        best[sid] = (score, key)
            if not term.meaningful:
                weight = GENERIC_WEIGHT
            elif all(key in self._named_by for key in term.keys):
                weight = CATALOG_WORD_WEIGHT
            else:
                weight = 1.0
            for sid, (score, key) in best.items():
                scores[sid] = scores.get(sid, 0.0) + weight * score
                if not term.meaningful:
                    continue
                product_id = product_of[sid]
                if product_id is None or key not in self._name_keys[product_id]:
                    hits[sid] = hits.get(sid, 0) + 1
                if term.subject:
                    covered[sid] = covered.get(sid, 0) + 1
        ranked: list[tuple[float, int]] = []
        for sid in hits:
            if covered.get(sid, 0) < needed:
                continue
            product_id = product_of[sid]
            score = scores[sid] * (1.0 if product_id is None else factor[product_id])
            if score >= MIN_SCORE:
                ranked.append((score, sid))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        return ranked

    def _asks_the_catalog(self, terms: Sequence[_Term]) -> bool:
        """Whether a question without a subject topic is one for the catalog search:
        a price ("¿cuánto cuesta la pintura?") or only words of product names ("¿tienen
        botas?"). "Las botas tienen garantía" has a subject, and is not."""
        if any(_PRICE in term.keys for term in terms):
            return True
        if any(key.startswith(_TOPIC_PREFIX) for term in terms for key in term.keys):
            return False  # "¿domingo?": a day, not a product
        plain = [term for term in terms if term.meaningful]
        return all(key in self._named_by for term in plain for key in term.keys)


def _unique(terms: Iterable[_Term]) -> list[_Term]:
    """Each term once (a question saying "hora" and "cierran" asks about hours once)."""
    seen: dict[tuple[str, ...], _Term] = {}
    for term in terms:
        kept = seen.get(term.keys)
        if kept is None or (term.meaningful and not kept.meaningful):
            seen[term.keys] = term
    return list(seen.values())
