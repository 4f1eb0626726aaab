"""Docstring fragments shared by the two estimators."""

PARAMETERS = """\
    attention : {"none", "self", "multihead", "se", "mha", "row"}, default="self"
        Attention block, by name (any key of
        ``sk_tabattn.nn.ATTENTION_BLOCKS``). ``"none"`` is the plain 1D-CNN;
        ``"self"`` single-head and ``"multihead"`` multi-head dot-product
        attention over the features; ``"se"`` a squeeze-and-excitation gate
        over channels; ``"mha"`` :class:`torch.nn.MultiheadAttention` over the
        features; ``"row"`` inter-sample attention (a weight per row, with a
        running normaliser so predictions do not depend on the batch).
    n_heads : int, default=2
        Number of heads of ``"multihead"`` and ``"mha"`` (``"mha"`` needs
        ``d_token`` divisible by it).
    attention_position : {"before", "after", "each"}, default="after"
        Attention on the raw feature tokens, after the last conv block, or
        after each conv block.
    attention_dim : int, default=16
        Width of queries and keys, per head.
    d_token : int, default=32
        Width of each feature's token, and channels of the conv blocks.
    n_blocks : int, default=2
        Number of residual conv blocks.
    kernel_size : int, default=3
        Convolution window, in features. The order of features is the token
        order (numeric columns, then categorical ones).
    dropout : float, default=0.1
        Dropout rate of the residual branches and of the head.
    activation : {"hardswish", "relu", "gelu"}, default="hardswish"
        Activation of the conv blocks and of the head's hidden layer.
        Hardswish (``x * relu6(x + 3) / 6``) has GELU's shape at ReLU's cost
        on a CPU; exact GELU (``erf``-based) costs about 6x as much, forward
        and backward, and is what models pickled before this parameter
        existed use. ReLU's kinks make ``explain``'s integrated gradients
        converge more slowly (on a test model their sum missed ``output -
        base_value`` by up to 5.9% at 32 steps, GELU's and Hardswish's by
        under 0.5%).
    pooling : {"mean", "attention"}, default="attention"
        How the feature positions are pooled into one vector: their mean, or
        a learned softmax weighting.
    feature_readout : bool, default=True
        Whether the head also reads four learned numbers per feature from
        the last block (dot products of each feature's channels with learned
        weights), beside the pooled vector. Pooling averages the features
        away; the readout keeps which feature holds what, so the head
        contains an MLP over the features.
    streams : None, "dtype" or list of list of str or int, default=None
        Feature streams, each with its own conv and attention branch. ``None``:
        one stream. ``"dtype"``: numeric and categorical columns as two streams.
        A list of column-name (or index) lists: one stream per list; every
        column must be in at least one.
    fusion : {"sum", "scalar", "softmax", "adaptive"}, default="softmax"
        How streams are merged: plain sum, one learned weight per stream,
        learned weights summing to 1, or per-sample, per-channel weights from
        a small network on each stream. Ignored with one stream.
    categorical_features : "from_dtype", array-like or None, default="from_dtype"
        Which columns are categorical (see :class:`TabularEncoder`).
    numeric_transform : {"quantile", "standard", "none"}, default="quantile"
        Scaling of the numeric columns, learned in ``fit``: a quantile
        transform to a normal distribution, standard scaling or none (see
        :class:`TabularEncoder`).
    numeric_embedding : {"linear", "periodic"}, default="linear"
        How a scaled numeric value becomes its token: ``x * w_j + b_j``, or
        the periodic (PLR) embedding ``ReLU(W_j [cos(2 pi c_j x), sin(2 pi c_j
        x)] + b_j)`` with 16 learned frequencies per column, a non-linear map
        of each column before the columns are mixed.
    min_frequency : int, default=5
        Categories seen fewer times in ``fit`` share one "rare" embedding.
    max_categories : int, default=512
        Most categories per column with an embedding of their own.
    lr : float, default=3e-3
        Peak learning rate of AdamW.
    weight_decay : float, default=1e-4
        AdamW's decoupled weight decay.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        Linear warm-up, then cosine decay over ``max_epochs`` or a constant rate.
    average_weights : bool, default=True
        Validate, keep and predict with an exponential moving average of the
        weights over about the last epoch of optimizer steps, not the weights
        of the last step: ``valid_loss`` in ``history_`` is the average's, and
        early stopping restores the best average.
    batch_size : int or "auto", default="auto"
        Rows per batch. ``"auto"``: a power of two near ``4 * sqrt(n_train)``,
        between 32 and 1024.
    max_epochs : int, default=100
        Most passes over the training data.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows (stratified for
        classification), stop when their loss has not improved for
        ``patience`` epochs, and restore the best epoch's weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping, in (0, 1).
    patience : int, default=10
        Epochs without improvement before early stopping.
    warm_start : bool, default=False
        When ``fit`` is called on a fitted model, go on training its network
        instead of starting anew, as scikit-learn's ``MLPClassifier`` does.
        The first fit's encoding (``encoder_``, a classifier's ``classes_``,
        a regressor's target scale) is kept, so ``X`` must have the same
        columns and ``y`` the same classes or number of targets, and the
        parameters that shape the network or the encoding cannot change (a
        ``ValueError`` names them); ``lr``, ``max_epochs``, ``batch_size``,
        ``dropout``, the schedule, row and class weights and early stopping
        can. Each call trains up to ``max_epochs`` more epochs with a new
        optimizer and learning-rate schedule, warm-up included (a warm
        restart); ``history_`` and ``n_iter_`` count the epochs of every call.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. With an int, a CPU fit is repeatable exactly. The global torch
        and numpy random states are left as they were.
    device : str or torch.device, default="cpu"
        Torch device to train and predict on, e.g. ``"cuda"``.
    compile : bool, default=False
        Train through ``torch.compile`` of the network (full batches only;
        validation and predict stay eager, and the fitted ``net_.module_`` is
        the plain module). Needs a C++ compiler for CPU. On 2 CPU cores the
        first compilation in a process took about 30 s; later fits of the
        same shapes in that process (cross-validation, a grid search) reuse
        it. On the default model the eager step is now the faster one: a
        training epoch on 20,000 x 20 took 0.82 s compiled against 0.68 s
        eager (one benchmark run); compile may still pay on other networks or
        devices. Compiled dropout draws other random masks than eager, so
        the fitted weights differ from ``compile=False`` ones (a seeded
        compiled fit still repeats exactly).
    verbose : int, default=0
        0: silent. 1: skorch's table of epochs. 2: also a progress bar of
        batches.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` tuples),
        added to the ones the estimator builds.
"""

ATTRIBUTES = """\
    encoder_ : TabularEncoder
        The fitted encoder of the input table.
    net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.module_`` is the
        :class:`~sk_tabattn.nn.AttentionCNN`.
    history_ : skorch.History
        Per-epoch training record (``train_loss``, ``valid_loss``, ...).
    n_iter_ : int
        Number of epochs trained (early stopping may end before
        ``max_epochs``; the weights are then the best epoch's), over every
        call of ``fit`` with ``warm_start=True``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``, when they are all strings.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Mean absolute attribution of each column (integrated gradients
        through the network) over up to 1,000 training rows; non-negative,
        sums to 1. See :mod:`sk_tabattn.explain`, and
        :func:`sklearn.inspection.permutation_importance` for the effect on a
        held-out score.
    n_outputs_ : int
        Width of the network's output.
"""
