"""The masked-LM loss: cross-entropy over the chosen positions only, in two equivalent forms.

    loss, hits = masked_loss_and_hits(targets, logits, weights)          # from full logits
    loss, hits = fused_projection_loss(vectors, kernel, bias, targets, weights)  # from vectors
    loss, hits, samples = fused_projection_loss(vectors, kernel, bias, targets, weights, seed=seed)

The fused form never holds the `(predictions, vocab)` logits at once: it projects, takes the
softmax cross-entropy and its gradient chunk by chunk, so each chunk's logits stay in the CPU cache.
With a 30,000-word vocabulary that tensor is what the MLM step spends most of its time on. XLA
(`jit_compile`) cannot compile the chunk loop, whose length depends on the data, and fuses the
projection with its loss on its own: traced for XLA (`in_xla`), the head takes the first form. With a
`seed` it also draws one word per chosen slot from the softmax it computes anyway (ELECTRA's
generator samples): a cumulative sum and a binary search per row, no second projection.
"""

import tensorflow as tf
from keras import ops
from tensorflow.python.ops import control_flow_util


def masked_loss_and_hits(targets, logits, weights):
    """Mean cross-entropy over the chosen positions (weight 1) only, and the number predicted right."""
    weights = ops.cast(weights, "float32")
    ce = ops.sparse_categorical_crossentropy(targets, ops.cast(logits, "float32"), from_logits=True)
    loss = ops.sum(ce * weights) / ops.maximum(ops.sum(weights), 1.0)
    right = ops.equal(ops.cast(ops.argmax(logits, -1), "int32"), ops.cast(targets, "int32"))
    return loss, ops.sum(ops.cast(right, "float32") * weights)


def in_xla():
    """Whether the code is being traced for XLA (a `jit_compile` function, or inside one): TensorFlow's own
    test, which its gradients use to pick XLA-friendly forms."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


@tf.function  # the chunk loop needs graph mode (eager TensorArrays differ)
def fused_projection_loss(vectors, kernel, bias, targets, weights, chunk_size=256, seed=None):
    """`masked_loss_and_hits(targets, vectors @ kernel + bias, weights)`, computed chunk by chunk.

    Args:
        vectors: `(..., width)` encoder vectors at the chosen positions.
        kernel, bias: the vocabulary projection, `(width, vocab)` and `(vocab,)`.
        targets, weights: `(...)` original token ids and 1.0 for chosen slots (0.0 rows are skipped).
        seed: an int `(2,)` tensor, to also draw a token from each chosen slot's softmax.

    Returns `(loss, hits)`, and with a `seed` the samples too, int32 shaped like `targets` (the
    target in unchosen slots); the loss has a custom gradient for `vectors`, `kernel` and `bias`,
    computed in the same pass as the loss.
    """
    width = vectors.shape[-1]
    keep = tf.reshape(weights, [-1]) > 0
    x = tf.boolean_mask(tf.reshape(tf.cast(vectors, tf.float32), [-1, width]), keep)
    y = tf.boolean_mask(tf.reshape(tf.cast(targets, tf.int32), [-1]), keep)
    rows = tf.shape(x)[0]
    scale = 1.0 / tf.maximum(tf.cast(rows, tf.float32), 1.0)
    sampling = seed is not None

    @tf.custom_gradient
    def loss_fn(x, kernel, bias):
        def chunk(i, loss, hits, d_kernel, d_bias, d_x, drawn):
            xc, yc = x[i * chunk_size:(i + 1) * chunk_size], y[i * chunk_size:(i + 1) * chunk_size]
            logits = tf.nn.bias_add(tf.matmul(xc, kernel), bias)  # grappler fuses the two on CPU
            ce, d_logits = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=logits, labels=yc)
            hits += tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), yc), tf.float32))
            if sampling:  # d_logits is softmax - one_hot(yc): add the one back, then invert the CDF
                index = tf.stack([tf.range(tf.shape(yc)[0]), yc], 1)
                cdf = tf.cumsum(tf.tensor_scatter_nd_add(d_logits, index, tf.ones_like(ce)), axis=1)
                u = tf.random.stateless_uniform([tf.shape(yc)[0], 1], tf.random.experimental.stateless_fold_in(
                    seed, i)) * cdf[:, -1:]
                drawn = drawn.write(i, tf.minimum(tf.searchsorted(cdf, u, side="right", out_type=tf.int32)[:, 0],
                                                  tf.shape(logits)[1] - 1))
            d_x = d_x.write(i, tf.matmul(d_logits, kernel, transpose_b=True))
            d_kernel += tf.matmul(xc, d_logits, transpose_a=True)
            d_bias += tf.reduce_sum(d_logits, 0)
            return i + 1, loss + tf.reduce_sum(ce), hits, d_kernel, d_bias, d_x, drawn

        n_chunks = (rows + chunk_size - 1) // chunk_size
        _, loss, hits, d_kernel, d_bias, d_x, drawn = tf.while_loop(
            lambda i, *_: i < n_chunks, chunk,
            (0, 0.0, 0.0, tf.zeros_like(kernel), tf.zeros_like(bias),
             tf.TensorArray(tf.float32, size=n_chunks, infer_shape=False, element_shape=[None, width]),
             tf.TensorArray(tf.int32, size=n_chunks, infer_shape=False, element_shape=[None])),
        )
        d_x = tf.reshape(d_x.concat(), [-1, width])
        drawn = drawn.concat() if sampling else tf.zeros([0], tf.int32)

        def grad(d_loss, d_hits, d_drawn):
            d_loss = d_loss * scale  # the mean's 1/rows, applied to the small tensors only
            return d_loss * d_x, d_loss * d_kernel, d_loss * d_bias

        return (loss * scale, tf.stop_gradient(hits), tf.stop_gradient(drawn)), grad

    loss, hits, drawn = loss_fn(x, tf.cast(kernel, tf.float32), tf.cast(bias, tf.float32))
    if not sampling:
        return loss, hits
    flat_targets = tf.reshape(tf.cast(targets, tf.int32), [-1])
    samples = tf.tensor_scatter_nd_update(flat_targets, tf.where(keep), drawn)
    return loss, hits, tf.reshape(samples, tf.shape(targets))
