"""Writes the notebook corpus (issue 18): notebooks in the styles real projects use. Run it to regenerate the
.ipynb files after editing; tests/pipelines/test_corpus.py says what pre-flight must answer for each one."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def nb(*cells, metadata=None):
    out = []
    for n, c in enumerate(cells, start=1):
        src, tags = (c, []) if isinstance(c, str) else c
        if src.startswith("# md: "):
            out.append({"cell_type": "markdown", "id": f"c{n}", "metadata": {}, "source": src[6:]})
            continue
        out.append({"cell_type": "code", "execution_count": n, "id": f"c{n}", "metadata": {"tags": tags},
                    "outputs": [], "source": src})
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}, **(metadata or {})}
    return {"cells": out, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


DATA = ("from sklearn.datasets import make_classification\n"
        "X, y = make_classification(n_samples=300, n_features=6, random_state=seed)\n")

CORPUS = {
    # Kale (Kubeflow) style: block:/prev:/pipeline-parameters/pipeline-metrics, a Kubernetes limit tag.
    "kale_blocks": nb(
        "# md: # Titanic-style classifier, tagged for Kale",
        ("import numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
         "from sklearn.model_selection import train_test_split", ["imports"]),
        ("seed = 7\nC = 1.0", ["pipeline-parameters"]),
        (DATA, ["block:loaddata"]),
        ("X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)", ["block:"]),
        ("clf = LogisticRegression(C=C, max_iter=200).fit(X_train, y_train)",
         ["block:train", "prev:loaddata", "limit:nvidia.com/gpu:1"]),
        ("accuracy = float(np.mean(clf.predict(X_test) == y_test))", ["block:evaluate", "prev:train"]),
        ("print(accuracy)", ["pipeline-metrics"]),
        ("print(X_test[:3])", ["skip"]),
    ),
    # Newer Kale spelling: step:.
    "kale_steps": nb(
        ("import statistics", ["imports"]),
        ("def summarise(xs):\n    return {'mean': statistics.mean(xs), 'sd': statistics.pstdev(xs)}",
         ["functions"]),
        ("n = 50", ["pipeline-parameters"]),
        ("values = [(i * 37) % 11 for i in range(n)]", ["step:generate"]),
        ("summary = summarise(values)", ["step:summarise", "prev:generate"]),
    ),
    # A papermill-parameterised report: untagged body, %matplotlib, a figure saved beside the output.
    "papermill_report": nb(
        "# md: # Weekly report (run with papermill -p region ...)",
        ("region = 'emea'\nweeks = 4\nthreshold = 0.25", ["parameters"]),
        "%matplotlib inline\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "import pandas as pd",
        "df = pd.DataFrame({'week': range(weeks), 'sales': [100 + 10 * w for w in range(weeks)]})\n"
        "df['region'] = region",
        "growth = df.sales.pct_change().dropna()\nflag = bool((growth > threshold).any())",
        "fig, ax = plt.subplots()\ndf.plot(x='week', y='sales', ax=ax)\nfig.savefig('sales.png')\n"
        "df.to_csv('sales.csv', index=False)",
        "again = pd.read_csv('sales.csv')\nassert len(again) == weeks\nprint(f'{region}: growth flag {flag}')",
    ),
    # papermill's habit of importing in the parameters cell: works, with a warning that says so.
    "papermill_import_in_parameters": nb(
        ("import json\nimport papermill as pm\nconfig = '{\"depth\": 3}'", ["parameters"]),
        ("settings = json.loads(config)\nversion = pm.__version__", ["stage:read"]),
        ("depth = settings['depth'] * 2", ["stage:use"]),
    ),
    # The MLflow tutorial idiom.
    "mlflow_start_run": nb(
        "import mlflow\nfrom sklearn.linear_model import LogisticRegression\nseed = 1\n" + DATA,
        "with mlflow.start_run():\n    model = LogisticRegression(max_iter=200).fit(X, y)\n"
        "    mlflow.log_param('max_iter', 200)\n    mlflow.log_metric('train_acc', model.score(X, y))",
    ),
    "mlflow_start_run_named": nb(
        ("import mlflow", ["imports"]),
        ("lr = 0.1", ["parameters"]),
        ("with mlflow.start_run(run_name='baseline') as run:\n    mlflow.log_param('lr', lr)\n"
         "    mlflow.log_metric('loss', 1 - lr)\n    run_id = run.info.run_id", ["stage:fit"]),
    ),
    # Autolog with scikit-learn.
    "mlflow_autolog": nb(
        ("import mlflow\nimport mlflow.sklearn\nfrom sklearn.tree import DecisionTreeClassifier", ["imports"]),
        ("seed = 3\ndepth = 2", ["parameters"]),
        (DATA, ["stage:data"]),
        ("mlflow.sklearn.autolog(log_models=False)\n"
         "with mlflow.start_run():\n    tree = DecisionTreeClassifier(max_depth=depth).fit(X, y)\n"
         "mlflow.sklearn.autolog(disable=True)", ["stage:train"]),
    ),
    # Nested runs: a small sweep.
    "mlflow_nested_runs": nb(
        "import mlflow",
        "with mlflow.start_run(run_name='sweep'):\n    for alpha in (0.1, 1.0):\n"
        "        with mlflow.start_run(run_name=f'alpha={alpha}', nested=True):\n"
        "            mlflow.log_metric('score', 1 / (1 + alpha))",
    ),
    # No start_run at all: stage-tagged, plain log_* calls (the platform's own style).
    "mlflow_plain_logging": nb(
        ("import mlflow\nimport math", ["imports"]),
        ("epochs = 3", ["parameters"]),
        ("losses = [math.exp(-e) for e in range(epochs)]", ["stage:train"]),
        ("for step, loss in enumerate(losses):\n    mlflow.log_metric('loss', loss, step=step)", ["stage:log"]),
    ),
    # Scoping that pre-flight used to get wrong (issue 18 item 2), in code real notebooks have.
    "scoping_idioms": nb(
        ("import re\nimport functools", ["imports"]),
        # A decorated function is pickled by reference, so it lives in a shared cell rather than passing
        # between stages; it reads a name its cell defines after it.
        ("def cached(fn):\n    return functools.lru_cache(maxsize=None)(fn)\n\n@cached\ndef score(t):\n"
         "    return len(VOCAB & set(t.split()))\n\nVOCAB = {'hello', 'world'}", ["functions"]),
        ("texts = ['Hello  World', 'a\\tb  c']", ["stage:clean"]),
        "normalise = lambda s: re.sub(r'\\s+', ' ', s).strip().lower()\n"
        "cleaned = [normalise(t) for t in texts]\nlengths = {t: n for t in cleaned if (n := len(t)) > 0}",
        ("class Stats:\n    unit = 'words'\n    label = unit.upper()\n    def total(self):\n"
         "        return sum(score(t) for t in cleaned)\n"
         "def setup():\n    global best\n    best = max(cleaned, key=score)\nsetup()", ["stage:score"]),
        ("match lengths:\n    case {'hello world': n, **rest}:\n        verdict = f'{n} {Stats.label}'\n"
         "    case _:\n        verdict = 'none'\ntry:\n    total = Stats().total()\nexcept ZeroDivisionError as err:\n"
         "    total = 0\ndel texts", ["stage:report"]),
    ),
    # Magics and shell escapes papermill runs as they are; a pip install of what the environment has.
    "magics_and_shell": nb(
        "%load_ext autoreload\n%autoreload 2\n%pip install -q pandas scikit-learn",
        "%%time\nsquares = [i * i for i in range(1000)]",
        "listing = !ls\n!echo shell works\nn_files = len(listing)",
        "%%bash\necho from bash",
        "total = sum(squares) + n_files",
    ),
    # --- Refused before promotion, with the real reason ---
    "relative_data_file": nb(
        ("import pandas as pd", ["imports"]),
        ("df = pd.read_csv('data/churn.csv')\nrate = df.churned.mean()", ["stage:load"]),
    ),
    "pip_install_missing": nb(
        "!pip install xgboost==2.0.3",
        "import xgboost as xgb\nmodel = xgb.XGBClassifier(n_estimators=10)",
    ),
    "missing_package_import": nb(
        ("import pandas as pd\nimport catboost", ["imports"]),
        ("model = catboost.CatBoostClassifier(iterations=5)", ["stage:train"]),
    ),
    "download_urllib": nb(
        "import urllib.request\nimport zipfile",
        "urllib.request.urlretrieve('https://archive.ics.uci.edu/static/public/222/bank+marketing.zip', "
        "'bank.zip')",
        "zipfile.ZipFile('bank.zip').extractall('bank')",
    ),
    "download_requests": nb(
        ("import requests\nimport pandas as pd", ["imports"]),
        ("resp = requests.get('https://api.example.org/v1/prices', timeout=10)\nprices = resp.json()",
         ["stage:fetch"]),
    ),
    "download_read_csv_url": nb(
        ("import pandas as pd", ["imports"]),
        ("DATA_URL = 'https://raw.githubusercontent.com/mwaskom/seaborn-data/master/iris.csv'", ["parameters"]),
        ("iris = pd.read_csv(DATA_URL)", ["stage:load"]),
        ("means = iris.groupby('species').mean()", ["stage:describe"]),
    ),
    "cell_that_is_gone": nb(
        "import pandas as pd",
        "summary = frame.describe()",
    ),
}


def main() -> None:
    for name, notebook in CORPUS.items():
        (HERE / f"{name}.ipynb").write_text(json.dumps(notebook, indent=1) + "\n")


if __name__ == "__main__":
    main()
