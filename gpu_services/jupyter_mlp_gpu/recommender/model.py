"""The recommender's encoder: a transformer over a dataset profile's meta-features, trained with InfoNCE.

A profile is a set of tokens, one per meta-feature it has: a learned embedding of the feature's identity plus a
projection of its value (scaled by `ranking.MetaScaler`: sign(x)*log1p|x|, standardised on the training datasets).
A missing feature is an absent token (masked), so profiles with different feature sets share one model. A [CLS]
token and a task token lead the sequence; the [CLS] output is the dataset's embedding (unit length).

A configuration's embedding is a learned vector per config_id plus one per family, so a new configuration of a known
family is not empty. Dataset i scores configuration c by cos(z_i, e_c) / temperature.

Training (InfoNCE, several positives): for a dataset, its `top_k` best configurations are positives and every
other configuration it was evaluated with a negative (unevaluated ones are neither). Hard negatives are weighted
`hard_weight` times in the denominator: the configurations that did well (top_k) on one of its `hard_neighbours`
nearest datasets in standardised meta-feature space but scored below its median here (alike on the surface, ranked
differently). Meta-feature tokens are dropped at random (`token_dropout`) so a profile with fewer features still
ranks. Deterministic for a seed on one device. Trains on CUDA when present, else the CPU (`device`).

`train(corpus_frames, settings) -> Model`; `Model.rank(meta, task)`; `Model.save(dir)` / `load(dir)`: the weights
(`model.pt`, a state_dict loaded with `weights_only=True`) and `model.json` (settings, corpus version, vocabulary,
scaler).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .ranking import MetaScaler, as_frames, l1_distances

TASKS = ("binary", "multiclass", "regression")


@dataclass
class Settings:
    layers: int = 2
    heads: int = 4
    width: int = 64
    ff_mult: int = 2
    dropout: float = 0.1
    top_k: int = 3
    temperature: float = 0.1
    hard_neighbours: int = 5
    hard_weight: float = 3.0
    token_dropout: float = 0.15
    # fixed at 60 before any benchmark result was seen: 150 took 75 s of CPU per training on LCDB (4.5 min wall
    # on this shared machine), too slow for ten folds per space
    epochs: int = 60
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when present, else the CPU; or "cpu", "cuda"
    # CPU threads while training (restored after): the small CPU model gains nothing from more, and on a shared
    # machine two threads took 15x longer than one (97 s against 6 s for tests/recommender's model); 0: torch's
    threads: int = 1
    space: str | None = None  # train on one configuration space only ("lcdb-default" | "grid"); None: all

    @classmethod
    def gpu(cls, **kw) -> "Settings":
        """The seed's size, for a GPU: 6 layers x 12 heads, width 384."""
        return cls(**{"layers": 6, "heads": 12, "width": 384, "device": "auto", **kw})

    @classmethod
    def from_json(cls, d: Mapping) -> "Settings":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _torch():
    import torch  # heavy: imported on first use

    return torch


def _device(name: str):
    torch = _torch()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _build(n_features: int, n_configs: int, n_families: int, s: Settings):
    torch = _torch()
    nn = torch.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            d = s.width
            self.feature = nn.Embedding(max(n_features, 1), d)
            self.value = nn.Sequential(nn.Linear(1, d), nn.GELU(), nn.Linear(d, d))
            self.cls = nn.Parameter(torch.zeros(1, 1, d))
            self.task = nn.Embedding(len(TASKS) + 1, d)
            layer = nn.TransformerEncoderLayer(d, s.heads, d * s.ff_mult, s.dropout, batch_first=True,
                                               norm_first=True, activation="gelu")
            self.encoder = nn.TransformerEncoder(layer, s.layers, enable_nested_tensor=False)
            self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d))
            self.config = nn.Embedding(max(n_configs, 1), d)
            self.family = nn.Embedding(max(n_families, 1), d)
            nn.init.normal_(self.cls, std=0.02)
            nn.init.normal_(self.config.weight, std=0.1)
            nn.init.normal_(self.family.weight, std=0.1)

        def embed(self, values, present, task):
            """values (B, F) standardised (anything where absent), present (B, F) bool, task (B,) -> (B, d)."""
            b, f = values.shape
            ids = torch.arange(f, device=values.device)
            tok = self.feature(ids)[None] + self.value(values.unsqueeze(-1))
            lead = torch.cat([self.cls.expand(b, 1, -1), self.task(task)[:, None]], dim=1)
            x = torch.cat([lead, tok], dim=1)
            pad = torch.cat([torch.zeros(b, 2, dtype=torch.bool, device=values.device), ~present], dim=1)
            h = self.encoder(x, src_key_padding_mask=pad)
            return nn.functional.normalize(self.head(h[:, 0]), dim=-1)

        def configs(self, config_ids, family_ids, known):
            e = self.family(family_ids) + self.config(config_ids) * known.unsqueeze(-1)
            return nn.functional.normalize(e, dim=-1)

    return Encoder()


@dataclass
class Model:
    settings: Settings
    scaler: MetaScaler
    configs: list[str]
    families: list[str]
    config_family: list[str]
    task_configs: dict[str, list[str]]
    corpus_version: str = ""
    net: Any = field(default=None, repr=False)
    losses: list[float] = field(default_factory=list, repr=False)  # mean training loss per epoch (train.py logs it)

    def _inputs(self, metas, tasks, device):
        torch = _torch()
        table = self.scaler.table(metas)
        present = ~np.isnan(table)
        values = torch.tensor(np.nan_to_num(table), dtype=torch.float32, device=device)
        task = torch.tensor([TASKS.index(t) + 1 if t in TASKS else 0 for t in tasks], device=device)
        return values, torch.tensor(present, device=device), task

    def _config_inputs(self, device):
        torch = _torch()
        fam = {f: i for i, f in enumerate(self.families)}
        return (torch.arange(len(self.configs), device=device),
                torch.tensor([fam[f] for f in self.config_family], device=device),
                torch.ones(len(self.configs), device=device))

    def rank(self, meta: Mapping[str, float], task: str) -> list[tuple[str, float]]:
        """The configurations (those seen with datasets of this task, when any were) best first, with scores."""
        torch = _torch()
        net = self.net.eval()
        device = next(net.parameters()).device
        with torch.no_grad():
            z = net.embed(*self._inputs([meta], [task], device))
            c = net.configs(*self._config_inputs(device))
            scores = (z @ c.T)[0].cpu().numpy() / self.settings.temperature
        allowed = set(self.task_configs.get(task) or self.configs)
        out = [(cid, float(scores[j])) for j, cid in enumerate(self.configs) if cid in allowed]
        return sorted(out, key=lambda t: (-t[1], t[0]))

    def save(self, path: str | Path) -> Path:
        torch = _torch()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in self.net.state_dict().items()}, path / "model.pt")
        meta = {"format": "jupyter-mlp-recommender/1", "settings": asdict(self.settings),
                "corpus_version": self.corpus_version, "scaler": self.scaler.to_json(), "configs": self.configs,
                "families": self.families, "config_family": self.config_family, "task_configs": self.task_configs}
        (path / "model.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        return path


def load(path: str | Path, device: str = "cpu") -> Model:
    """A saved model; the weights are read as tensors only (`weights_only=True`), never as pickled objects."""
    torch = _torch()
    path = Path(path)
    meta = json.loads((path / "model.json").read_text())
    if meta.get("format") != "jupyter-mlp-recommender/1":
        raise ValueError(f"{path / 'model.json'} is not a recommender model (format {meta.get('format')!r})")
    s = Settings.from_json(meta["settings"])
    m = Model(s, MetaScaler.from_json(meta["scaler"]), meta["configs"], meta["families"], meta["config_family"],
              meta["task_configs"], meta.get("corpus_version", ""))
    net = _build(len(m.scaler.names), len(m.configs), len(m.families), s)
    net.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
    m.net = net.to(_device(device)).eval()
    return m


def hard_negatives(table: np.ndarray, matrix: np.ndarray, top_k: int, neighbours: int) -> np.ndarray:
    """(datasets x configs) bool: configurations in the top_k of one of a dataset's nearest datasets (standardised
    meta-features, L1 over shared features) that scored below the dataset's own median."""
    n, c = matrix.shape
    top = _top_k(matrix, top_k)
    hard = np.zeros((n, c), bool)
    for i in range(n):
        dist = l1_distances(table[i], table)
        dist[i] = np.inf
        near = [j for j in np.argsort(dist, kind="stable")[:neighbours] if np.isfinite(dist[j])]
        row = matrix[i]
        if not near or np.isnan(row).all():
            continue
        below = ~np.isnan(row) & (row < np.nanmedian(row))
        hard[i] = top[near].any(axis=0) & below & ~top[i]
    return hard


def _top_k(matrix: np.ndarray, k: int) -> np.ndarray:
    """(datasets x configs) bool: each dataset's k best evaluated configurations (ties at the k-th included)."""
    top = np.zeros(matrix.shape, bool)
    for i, row in enumerate(matrix):
        ok = ~np.isnan(row)
        if ok.any():
            kth = np.sort(row[ok])[::-1][min(k, ok.sum()) - 1]
            top[i] = ok & (row >= kth)
    return top


def train(corpus_frames: Any, settings: Settings | None = None) -> Model:
    """Train the encoder on a `Corpus` (or its frames; `settings.space` keeps one configuration space)."""
    torch = _torch()
    s = settings or Settings()
    before = torch.get_num_threads()
    if s.threads > 0:
        torch.set_num_threads(s.threads)
    try:
        return _train(corpus_frames, s)
    finally:
        torch.set_num_threads(before)


def _train(corpus_frames: Any, s: Settings) -> Model:
    torch = _torch()
    frames = as_frames(corpus_frames, space=s.space)
    if frames.datasets.empty:
        raise ValueError("no dataset with a score to train on")
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    device = _device(s.device)

    metas, tasks = list(frames.datasets["meta"]), list(frames.datasets["task"])
    configs = list(frames.configs["config_id"])
    config_family = list(frames.configs["family"])
    families = sorted(set(config_family))
    matrix = frames.matrix().to_numpy()
    task_configs = {t: [c for j, c in enumerate(configs) if (~np.isnan(matrix[np.array(tasks) == t, j])).any()]
                    for t in sorted(set(tasks))}
    scaler = MetaScaler.fit(metas)
    model = Model(s, scaler, configs, families, config_family, task_configs, frames.version)
    net = _build(len(scaler.names), len(configs), len(families), s).to(device)
    model.net = net

    values, present, task = model._inputs(metas, tasks, device)
    cfg = model._config_inputs(device)
    evaluated = torch.tensor(~np.isnan(matrix), device=device)
    pos = torch.tensor(_top_k(matrix, s.top_k), device=device)
    hard = hard_negatives(scaler.table(metas), matrix, s.top_k, s.hard_neighbours)
    neg_bias = torch.tensor(np.where(hard, math.log(s.hard_weight), 0.0), dtype=torch.float32, device=device)
    negative = evaluated & ~pos

    opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    n = len(metas)
    steps = s.epochs * math.ceil(n / s.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=max(steps, 1), pct_start=0.1)
    gen = torch.Generator(device="cpu").manual_seed(s.seed)
    net.train()
    for _ in range(s.epochs):
        total, batches = 0.0, 0
        perm = rng.permutation(n)
        for start in range(0, n, s.batch_size):
            b = torch.tensor(perm[start:start + s.batch_size], device=device)
            keep = present[b]
            if s.token_dropout > 0:
                drop = (torch.rand(keep.shape, generator=gen) < s.token_dropout).to(device)
                keep = keep & ~drop
            z = net.embed(values[b], keep, task[b])
            logits = z @ net.configs(*cfg).T / s.temperature
            neg = torch.where(negative[b], logits + neg_bias[b], torch.full_like(logits, -math.inf))
            floor = torch.full_like(logits[:, :1], -1e4)  # a row without negatives: no -inf, no NaN gradient
            neg_lse = torch.logsumexp(torch.cat([neg, floor], dim=1), dim=1, keepdim=True)
            p = pos[b].float()
            per = (torch.logaddexp(logits, neg_lse) - logits) * p
            loss = (per.sum(1) / p.sum(1).clamp(min=1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, batches = total + float(loss.detach()), batches + 1
        model.losses.append(total / max(batches, 1))
    net.eval()
    return model
