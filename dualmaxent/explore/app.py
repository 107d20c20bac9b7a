import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="dualmaxent explorer")


@app.cell
def _():
    import marimo as mo

    from dualmaxent.explore import model, progress, views
    from dualmaxent.families import FAMILIES
    from dualmaxent.dual import METHODS

    return FAMILIES, METHODS, mo, model, progress, views


@app.cell
def _(mo):
    mo.md(r"""
    # Logistic regression is a maximum-entropy model
    The most uncertain distribution that still reproduces the data's totals
    $X^\top W Y$ is the model $P^* = \mathrm{softmax}(X\theta^*)$ of the likelihood's
    maximiser: move a control and watch the primal, the dual and the certified bracket
    between them.
    """)
    return


@app.cell
def _(mo, model):
    start = model.initial(mo.cli_args())
    # a CSV given on the command line is a choice of its own, listed first and chosen: the menu
    # showed "blobs" while the file was loaded, and picking an example changed nothing
    given = [f"file: {start.csv_name}"] if start.csv else []
    data_pick = mo.ui.dropdown(options=given + list(model.EXAMPLES),
                               value=(given[0] if given else start.name
                                      if start.name in model.EXAMPLES else "blobs"),
                               label="data")
    upload = mo.ui.file(filetypes=[".csv"], label="or upload a CSV")
    return data_pick, given, start, upload


@app.cell
def _(FAMILIES, data_pick, given, mo, model, start, upload):
    from_file = data_pick.value in given
    csv_bytes = upload.contents() if upload.value else start.csv if from_file else None
    csv_name = upload.name() if upload.value else start.csv_name
    columns = model.csv_columns(csv_bytes) if csv_bytes else []
    natural = model.EXAMPLES[data_pick.value][1] if not columns else "categorical"
    family_pick = mo.ui.dropdown(options=list(FAMILIES), value=start.family or natural,
                                 label="family")
    target_pick = mo.ui.dropdown(options=columns, label="target",
                                 value=(start.target if start.target in columns
                                        else (columns[-1] if columns else None)))
    return columns, csv_bytes, csv_name, family_pick, target_pick


@app.cell
def _(columns, mo, target_pick):
    feature_pick = mo.ui.multiselect(options=[c for c in columns if c != target_pick.value],
                                     label="features (default: all others)")
    return (feature_pick,)


@app.cell
def _(csv_bytes, csv_name, data_pick, family_pick, feature_pick, model, target_pick):
    source = model.Source(name=data_pick.value, family=family_pick.value, csv=csv_bytes,
                          csv_name=csv_name, target=target_pick.value,
                          features=tuple(feature_pick.value))
    return (source,)


@app.cell
def _(model, source):
    loaded = model.load(source)
    return (loaded,)


@app.cell
def _(data_pick, family_pick, feature_pick, loaded, mo, target_pick, upload):
    # Each control is shown by the cell that defines it, or by one that does not depend on the
    # solve: a cell that shows a control re-runs when its value changes, and a lambda move must
    # redraw the summary and the view only, not every control.
    data_row = [data_pick, family_pick, upload]
    if target_pick.options:
        data_row += [target_pick, feature_pick]
    warnings_block = mo.md("\n\n".join(f"`{w}`" for w in loaded.warnings)) if loaded.warnings \
        else mo.md("")
    mo.vstack([mo.hstack(data_row, justify="start", gap=1.5), warnings_block], gap=0.6)
    return


@app.cell
def _(mo, model):
    penalty_pick = mo.ui.dropdown(options=list(model.PENALTIES), value="none", label="penalty")
    ratio_pick = mo.ui.slider(0.05, 0.95, step=0.05, value=0.5, label="elastic net a",
                              show_value=True)
    gauge_pick = mo.ui.radio(options=["pivot", "full"], value="pivot", label="CVXPY's gauge",
                             inline=True)
    return gauge_pick, penalty_pick, ratio_pick


@app.cell
def _(gauge_pick, mo, penalty_pick, ratio_pick):
    # the mixing only for the elastic net
    mo.hstack([penalty_pick] + ([ratio_pick] if penalty_pick.value == "elastic net" else [])
              + [gauge_pick], justify="start", gap=1.5)
    return


@app.cell
def _(loaded, mo, model):
    steps = model.lambda_steps(loaded.dataset) if loaded.dataset is not None else [1.0]
    lam_pick = mo.ui.slider(steps=steps, value=steps[len(steps) // 2], label="λ (log scale)",
                            show_value=True, full_width=True)
    return (lam_pick,)


@app.cell
def _(lam_pick, mo, penalty_pick):
    # lambda only with a penalty (hidden, the slider keeps its value for the next one)
    lam_pick if penalty_pick.value != "none" else mo.md("")
    return


@app.cell
def _(METHODS, mo, model):
    method_pick = mo.ui.dropdown(options=list(METHODS), value="auto", label="dual method")
    dual_tol_pick = mo.ui.dropdown(options=["default", "1e-4", "1e-6", "1e-8", "1e-10"],
                                   value="default", label="dual tolerance")
    primal_pick = mo.ui.radio(options=list(model.PRIMALS), value="cvxpy", label="primal",
                              inline=True)
    mo.hstack([method_pick, dual_tol_pick, primal_pick], justify="start", gap=1.5)
    return dual_tol_pick, method_pick, primal_pick


@app.cell
def _(dual_tol_pick, gauge_pick, lam_pick, method_pick, model, penalty_pick, primal_pick,
      ratio_pick):
    settings = model.Settings(
        penalty=penalty_pick.value, lam=float(lam_pick.value), l1_ratio=ratio_pick.value,
        gauge=gauge_pick.value, method=method_pick.value,
        dual_tol=None if dual_tol_pick.value == "default" else float(dual_tol_pick.value),
        primal=primal_pick.value)
    return (settings,)


@app.cell
def _(loaded, model, progress, settings):
    with progress("Solving", "the dual, the CVXPY primal, and the certificate"):
        exploration = model.explore(loaded, settings)
    return (exploration,)


@app.cell
def _(exploration, mo, views):
    summary_view = views.summary(exploration)
    mo.Html(summary_view.html)
    return (summary_view,)


@app.cell
def _(mo, views):
    view_pick = mo.ui.radio(options=list(views.VIEWS), value=list(views.VIEWS)[0],
                            inline=True, label="view")
    view_pick
    return (view_pick,)


@app.cell
def _(loaded, mo, views):
    # from the data alone: a lambda move keeps the solvers and the features picked
    trace_pick = mo.ui.multiselect(options=list(views.TRACE_METHODS),
                                   value=list(views.TRACE_METHODS), label="solvers to trace")
    names = [f for f in (loaded.dataset.feature_names if loaded.dataset else ())
             if f != "intercept"]
    map_pick = mo.ui.multiselect(options=names, value=names[:2], max_selections=2,
                                 label="two features for the map")
    return map_pick, trace_pick


@app.cell
def _(map_pick, trace_pick, view_pick):
    # the view's own control, when it has one
    {"The bracket closing": trace_pick, "Max-entropy map": map_pick}.get(view_pick.value)
    return


@app.cell
def _(exploration, loaded, map_pick, mo, progress, trace_pick, view_pick, views):
    # only the view on screen is computed: a slider move redraws one figure, not six
    with progress(view_pick.value, "tracing the solvers" if view_pick.value ==
                  "The bracket closing" else None):
        shown = views.show(view_pick.value, exploration, loaded,
                           methods=tuple(trace_pick.value), features=list(map_pick.value))
    mo.Html(shown.html)
    return (shown,)


if __name__ == "__main__":
    app.run()
