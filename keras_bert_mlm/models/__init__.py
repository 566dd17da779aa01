"""The models: the BERT encoder, the masked language model that pretrains it, the classifier on top.

    encoder = build_encoder(**cfg.encoder_settings())   # token ids -> one vector per token
    mlm = MaskedLanguageModel(encoder)                   # + vocabulary logits at the chosen positions
    rtd = ReplacedTokenDetector(encoder, generator_width=64, generator_ff_dim=128)  # or ELECTRA's objective
    classifier = build_classifier(copy_encoder(encoder), **cfg.classifier_settings())
    classifier = build_prompt_classifier(copy_encoder(encoder), before, after, word_ids)  # or fill in a blank

Importing this package registers the custom layers, which `keras.saving.load_model` needs to read
the `.keras` files of a run.
"""

from .alibi import AlibiAttention
from .classifier import accuracy, build_classifier, training_setup
from .electra import ReplacedTokenDetector
from .encoder import build_encoder, build_generator, copy_encoder
from .layers import MaskedLMHead, PaddingMask, SequencePooling, TokenAndPositionEmbedding
from .masked_lm import MaskedLanguageModel
from .prompt import Prompted, VectorAt, build_prompt_classifier

__all__ = ["AlibiAttention", "MaskedLMHead", "MaskedLanguageModel", "PaddingMask", "Prompted",
           "ReplacedTokenDetector", "SequencePooling", "TokenAndPositionEmbedding", "VectorAt", "accuracy",
           "build_classifier", "build_encoder", "build_generator", "build_prompt_classifier", "copy_encoder",
           "training_setup"]
