"""Every `>>>` example in the package's docstrings runs (they are all quick)."""

import doctest
import importlib
import pkgutil

import pytest

import keras_bert_mlm

MODULES = sorted(m.name for m in pkgutil.walk_packages(keras_bert_mlm.__path__, "keras_bert_mlm."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
