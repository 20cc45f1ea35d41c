"""Wrong solutions for chapter 10 (static graphs): the mistakes of a first tracer, its passes, fusion and replay.

Each wrong solution is the reference solution cell with one plausible mistake written into it (the
edits below name the exact text they replace, so a changed reference fails loudly here). Names ending
in `_hidden_only` pass the visible self-check and fail only the hidden tests.
"""

from tests.course.runner import ROOT, make_notebooks

SLUG = "10_static_graphs"

_CELLS = {c.grade_id: c.source for c in make_notebooks.parse(
    (ROOT / "course" / "chapters" / f"{SLUG}.py").read_text(), SLUG) if c.kind == "solution"}


def _wrong(part: str, *edits: tuple[str, str]) -> str:
    """The reference solution of `part` with each (old, new) edit applied once."""
    source = _CELLS[part]
    for old, new in edits:
        if source.count(old) != 1:
            raise ValueError(f"{SLUG}/{part}: the catalogue's edit does not match the solution once: {old!r}")
        source = source.replace(old, new)
    return source


WRONG = {
    "tracer": {
        # a lifted 2.0 becomes a capture: the graph then holds the number as if it were a parameter
        "misses_literals": _wrong("tracer", ("if t.ndim == 0 and not t.requires_grad:", "if False:")),
        # the hook stays on while the op runs: an op made of ops (linear = permute, matmul, add) records both
        "records_inner_ops": _wrong("tracer", ("previous = autograd.set_apply_hook(None)",
                                               "previous = autograd.set_apply_hook(self.record)")),
        # no memory of tensors from outside: w used twice is two captures
        "capture_per_use_hidden_only": _wrong("tracer", ("        if id(t) in self.known:\n"
                                                         "            return self.known[id(t)]\n", "")),
        # the hook is put back only when fn returns normally: after an error every op keeps being recorded
        "hook_left_set_on_error_hidden_only": _wrong(
            "tracer",
            ("    try:\n        with mt.no_grad():\n            result = fn(*stand_ins)\n    finally:\n"
             "        autograd.set_apply_hook(previous)\n        RECORDING.pop()\n",
             "    with mt.no_grad():\n        result = fn(*stand_ins)\n    autograd.set_apply_hook(previous)\n"
             "    RECORDING.pop()\n")),
        # a capture holds a copy of the parameter: the replay would never see the optimizer's updates
        "captures_a_copy": _wrong("tracer", ('v = g.value(t.shape, t.dtype, t.device, "capture", strides=t._strides, '
                                             'tensor=t)', 'v = g.value(t.shape, t.dtype, t.device, "capture", '
                                             'strides=t._strides, tensor=mt.tensor(plain(t).numpy()))')),
        # one output only: a tuple's second tensor is lost
        "first_output_only_hidden_only": _wrong("tracer", ("outs, g.out_structure = list(result), type(result)",
                                                           "outs, g.out_structure = [result[0]], None")),
    },
    "value_error": {
        # frame 1 is Traced.__bool__ (the given class), not the user's `if`
        "names_the_tracer_line": _wrong("value_error", ("frame = sys._getframe(2)", "frame = sys._getframe(1)")),
        # frame 3 is trace(), which called the user's function
        "names_the_trace_call": _wrong("value_error", ("frame = sys._getframe(2)", "frame = sys._getframe(3)")),
        "no_where_hint": _wrong("value_error", ("For an elementwise choice use \"\n        \"mt.where(cond, a, b); "
                                                "otherwise compute", "Otherwise compute")),
        "runtime_error_not_tracer_error": _wrong("value_error", ("return TracerError(", "return RuntimeError(")),
        "no_line_text": _wrong("value_error", (": `{text}`.", ".")),
    },
    "dce": {
        # one pass: a node nobody reads goes, but the mul only the dead exp read stays
        "one_pass_unread": _wrong("dce", (
            "    live = {v.id for v in g.outputs}\n    kept = []\n    for n in reversed(g.nodes):\n"
            "        if n.out.id in live:\n            kept.append(n)\n"
            "            live.update(v.id for v in n.inputs)\n"
            "    g.nodes = kept[::-1]\n",
            "    read = {v.id for n in g.nodes for v in n.inputs} | {v.id for v in g.outputs}\n"
            "    g.nodes = [n for n in g.nodes if n.out.id in read]\n"
            "    live = read\n")),
        # walks forwards: a node's users are not seen yet, so the producers of the outputs' operands go
        "walks_forwards": _wrong("dce", ("    for n in reversed(g.nodes):", "    for n in list(g.nodes):"),
                                 ("    g.nodes = kept[::-1]", "    g.nodes = kept")),
        # keeps what another node reads: the output's own node goes
        "drops_output_producers": _wrong("dce", ("    live = {v.id for v in g.outputs}", "    live = set()"),
                                         ("        if n.out.id in live:", "        if n.out.id in live or not kept:")),
        "keeps_dead_captures": _wrong("dce", ("    g.captures = [v for v in g.captures if v.id in live]\n", "")),
    },
    "cse": {
        # sum over dim 0 and over dim 1 become one
        "ignores_options": _wrong("cse", ("repr(sorted(n.options.items())), ", "")),
        # two lifted 2.0s are different Values: x * 2.0 twice is never merged
        "literals_by_id": _wrong("cse", ('("literal", v.dtype.str, v.literal) if v.kind == "literal" else v.id',
                                         "v.id")),
        # every literal looks alike: x * 2.0 and x * 3.0 become one
        "literals_ignored": _wrong("cse", ('("literal", v.dtype.str, v.literal) if v.kind == "literal" else v.id',
                                           '"literal" if v.kind == "literal" else v.id')),
        # two random draws merged into one: Noise(x) - Noise(x) becomes 0
        "merges_random_ops_hidden_only": _wrong("cse", ('        if getattr(n.fn, "nondeterministic", False):\n'
                                                        "            kept.append(n)\n            continue\n", "")),
        "outputs_not_rewritten_hidden_only": _wrong(
            "cse", ("    g.outputs = [replaced.get(v.id, v) for v in g.outputs]\n", "")),
        # the key is made before the operands are rewritten: a chain written twice merges at its first level only
        "operands_rewritten_late": _wrong("cse", (
            "        n.inputs = [replaced.get(v.id, v) for v in n.inputs]\n", ""), (
            "        if key in seen:", "        n.inputs = [replaced.get(v.id, v) for v in n.inputs]\n"
                                       "        if key in seen:")),
    },
    "fusion": {
        # a matmul or a sum joins the chain: one output element of them reads many inputs
        "fuses_reductions": _wrong("fusion", ('n.kind == "elementwise" and n.info.scalar is not None',
                                              'n.kind in ("elementwise", "reduce", "other")')),
        # a (4, 1) node joins a (4, 5) group: one kernel loops over one shape
        "ignores_shapes_hidden_only": _wrong("fusion", ("group[-1].out.shape == n.out.shape and ", "")),
        # a value read twice is hidden in a kernel: the other reader finds nothing in memory
        "ignores_other_readers_hidden_only": _wrong("fusion", ("\n                    and all(u is n for u in "
                                                               "users[v.id])", "")),
        # an output is hidden inside a group: it never reaches memory
        "fuses_outputs": _wrong("fusion", (" and v.id not in outputs", "")),
        # the group's nodes in the order their groups were merged, not the order they run
        "reorders_hidden_only": _wrong("fusion", (
            "        group_of[n.out.id] = sorted(members, key=lambda m: order[id(m)])",
            "        group_of[n.out.id] = members"), (
            "    g.groups = [sorted(group, key=lambda m: order[id(m)]) for group in group_of.values() "
            "if len(group) >= 2]",
            "    g.groups = [group for group in group_of.values() if len(group) >= 2]")),
    },
    "kernel": {
        # every operand read as if it were contiguous in the group's shape: a bias row or column is wrong
        "ignores_strides": _wrong("kernel", ('f"            x{j} = i{j}[p{j} + c * s{j}]"',
                                             'f"            x{j} = i{j}[row * inner + c]"')),
        # the innermost loop steps with the first dim's stride
        "wrong_dim_stride": _wrong("kernel", ('f"        s{j} = strides[{j}, nd - 1]"',
                                              'f"        s{j} = strides[{j}, 0]"')),
        # the row's position from its index in the wrong dims
        "row_index_reversed": _wrong("kernel", ('f"            p{j} += k * strides[{j}, d]"',
                                                'f"            p{j} += k * strides[{j}, nd - 2 - d]"')),
        # every intermediate rounded to float32: a float64 graph loses its precision
        "always_float32_hidden_only": _wrong("kernel", ("= {n.out.dtype.name}({call})", "= float32({call})")),
        # literals passed as operands: the kernel's parameters no longer match the graph's tensors
        "literals_as_operands": _wrong("kernel", ('if v.kind != "literal" and v.id not in inside',
                                                  "if v.id not in inside")),
        # stores the first node's result, not the group's
        "stores_first_node": _wrong("kernel", ("{names[group[-1].out.id]}", "{names[group[0].out.id]}")),
        # one operand per use: d read three times is three parameters
        "duplicate_operands_hidden_only": _wrong("kernel", (" and all(v is not w for w in found)", "")),
    },
    "replay": {
        # parameters copied at construction: an optimizer step after the trace is never seen
        "captures_frozen_at_trace": _wrong("replay", (
            "        self.graph = graph\n",
            "        self.graph = graph\n        self.frozen = {v.id: mt.tensor(plain(v.tensor).numpy()) "
            "for v in graph.captures}\n"), (
            "        env = {v.id: v.tensor for v in g.captures}", "        env = dict(self.frozen)")),
        "no_shape_check": _wrong("replay", ("        if got != want:", "        if len(got) != len(want):")),
        "shapes_not_named": _wrong("replay", (
            'raise ValueError(f"this graph was traced for inputs of shapes', 'raise ValueError("wrong inputs" or f"')),
        # the kernel even when autograd needs the ops: no gradient reaches w
        "kernel_under_autograd_hidden_only": _wrong("replay", (
            "if mt.is_grad_enabled() and any(a.requires_grad for a in args):", "if False:")),
        # never the kernel: the fused group runs op by op
        "never_runs_the_kernel": _wrong("replay", (
            "if mt.is_grad_enabled() and any(a.requires_grad for a in args):", "if True:")),
    },
}
