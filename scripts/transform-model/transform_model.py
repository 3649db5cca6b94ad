"""Derive the "speech-window" Kokoro model from the untouched int8 export.

The untouched model decodes every frame the duration predictor asks for, including the
leading/trailing silence that trimming throws away (about half of a single word's frames).
The derived model keeps the encoder, the durations and the F0/energy prediction bit-identical
and runs the decoder (iSTFTNet, 95% of the work) only on the frames that can be heard:

  1. speech frames = frames whose predicted energy N (2 values per 40 Hz frame) exceeds
     ENERGY_THRESHOLD; window = [first - MARGIN, last + 1 + MARGIN), clipped to the utterance.
     With no speech frame at all the window is the whole utterance.
  2. asr features, F0 and N are sliced to the window before the decoder.
  3. The decoder's instance norms average over time, so the dropped silence still shapes the
     voiced frames. Every time-axis mean becomes a weighted mean: the EDGE_FRAMES first
     (last) window frames also stand for the frames dropped before (after) the window.
  4. The harmonic source's phase is a running sum over all frames: the sum over the dropped
     leading frames is added so the window starts with the phase the full run would have.

Same inputs and output names as the untouched model (tokens, style, speed -> audio); `audio`
holds the window only (600 samples per frame), so callers trim it exactly as before.

Usage: python transform_model.py <untouched kokoro-v1.0.int8.onnx> <output .onnx>
Deterministic: the same input file and pinned onnx/numpy versions give the same bytes.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ENERGY_THRESHOLD = -5.0  # predicted N: about -9 in silence, above 0 in speech
MARGIN = 6  # frames decoded on each side of the speech frames (receptive field + 30 ms trim pad)
EDGE_FRAMES = 6  # window frames that also stand for the dropped frames in the norm statistics

# Tensors of the untouched export (kokoro-onnx v1.0 int8, sha256 6e742170...).
ASR = '/encoder/MatMul_1_output_0'  # [1, 512, F] text features aligned to frames (40 Hz)
F0 = '/encoder/Reshape_output_0'  # [1, 2F] predicted pitch (80 Hz)
ENERGY = '/encoder/Reshape_1_output_0'  # [1, 2F] predicted energy N (80 Hz)
PHASE_CUMSUM = '/decoder/decoder/generator/m_source/l_sin_gen/CumSum_output_0'  # [1, 2F, 9]
HARMONICS = 9
SAMPLE_RATE = 24000.0
PHASE_UPSAMPLE = 300.0  # F0 frames -> samples; the graph multiplies the phase sum by this

PREFIX = 'speech_window/'


def const(graph, name, value):
    if not any(i.name == PREFIX + name for i in graph.initializer):
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), PREFIX + name))
    return PREFIX + name


def node(graph_nodes, op, inputs, output, **attrs):
    graph_nodes.append(helper.make_node(op, inputs, [PREFIX + output], name=PREFIX + output, **attrs))
    return PREFIX + output


def encoder_nodes(graph):
    """Names of the nodes the encoder outputs (ASR, F0, ENERGY) depend on."""
    producer = {out: n for n in graph.node for out in n.output}
    needed, stack = set(), [ASR, F0, ENERGY]
    while stack:
        n = producer.get(stack.pop())
        if n is None or n.name in needed:
            continue
        needed.add(n.name)
        stack.extend(i for i in n.input if i)
    return needed


def add_window(graph, nodes):
    """Nodes choosing the window [start, end) from the energy; returns (start, end, frames)."""
    frames_shape = node(nodes, 'Shape', [ASR], 'asr_shape')
    frames = node(nodes, 'Gather', [frames_shape, const(graph, 'two', np.int64(2))], 'frames', axis=0)
    pairs = node(nodes, 'Reshape', [ENERGY, const(graph, 'pairs_shape', np.array([-1, 2], np.int64))], 'energy_pairs')
    loudest = node(nodes, 'ReduceMax', [pairs, const(graph, 'axis1', np.array([1], np.int64))], 'energy_max', keepdims=0)
    speech = node(nodes, 'Greater', [loudest, const(graph, 'threshold', np.float32(ENERGY_THRESHOLD))], 'speech')
    speech_f = node(nodes, 'Cast', [speech], 'speech_f', to=TensorProto.FLOAT)
    # No speech frame: ArgMax gives 0 and, with select_last_index, F - 1: the whole utterance.
    first = node(nodes, 'ArgMax', [speech_f], 'first', axis=0, keepdims=0, select_last_index=0)
    last = node(nodes, 'ArgMax', [speech_f], 'last', axis=0, keepdims=0, select_last_index=1)
    margin = const(graph, 'margin', np.int64(MARGIN))
    start = node(nodes, 'Max', [node(nodes, 'Sub', [first, margin], 'first_m'), const(graph, 'zero', np.int64(0))], 'start')
    after_last = node(nodes, 'Add', [last, const(graph, 'margin_p1', np.int64(MARGIN + 1))], 'last_m')
    end = node(nodes, 'Min', [after_last, frames], 'end')
    return start, end, frames


def add_slices(graph, nodes, start, end):
    """Window-sliced copies of ASR, F0 and ENERGY ({original: sliced}) and the window start in F0 frames."""
    as1 = lambda t, name: node(nodes, 'Unsqueeze', [t, const(graph, 'axis0', np.array([0], np.int64))], name)
    start1, end1 = as1(start, 'start1'), as1(end, 'end1')
    two = const(graph, 'two1', np.array([2], np.int64))
    start2 = node(nodes, 'Mul', [start1, two], 'start2')
    end2 = node(nodes, 'Mul', [end1, two], 'end2')
    return {
        ASR: node(nodes, 'Slice', [ASR, start1, end1, const(graph, 'axis2', np.array([2], np.int64))], 'asr'),
        F0: node(nodes, 'Slice', [F0, start2, end2, const(graph, 'axis1b', np.array([1], np.int64))], 'f0'),
        ENERGY: node(nodes, 'Slice', [ENERGY, start2, end2, const(graph, 'axis1c', np.array([1], np.int64))], 'energy'),
    }, start2


def add_phase_offset(graph, nodes, start2):
    """Phase (in cycles / PHASE_UPSAMPLE) the full run accumulates over the dropped leading F0 frames."""
    f0 = node(nodes, 'Cast', [F0], 'f0_d', to=TensorProto.DOUBLE)
    f0 = node(nodes, 'Unsqueeze', [f0, const(graph, 'axis2u', np.array([2], np.int64))], 'f0_3d')
    harmonics = const(graph, 'harmonics', np.arange(1, HARMONICS + 1, dtype=np.float64).reshape(1, 1, HARMONICS))
    per_sample = node(nodes, 'Div', [node(nodes, 'Mul', [f0, harmonics], 'f0_h'),
                                     const(graph, 'rate', np.float64(SAMPLE_RATE))], 'cycles')
    frac = node(nodes, 'Sub', [per_sample, node(nodes, 'Floor', [per_sample], 'cycles_floor')], 'cycles_frac')
    dropped = node(nodes, 'Slice', [frac, const(graph, 'zero1', np.array([0], np.int64)), start2,
                                    const(graph, 'axis1d', np.array([1], np.int64))], 'dropped_cycles')
    total = node(nodes, 'ReduceSum', [dropped, const(graph, 'axis1e', np.array([1], np.int64))], 'dropped_sum', keepdims=0)
    # Only the fractional part of total * PHASE_UPSAMPLE matters (whole turns); keep float32 precise.
    scaled = node(nodes, 'Mul', [total, const(graph, 'upsample', np.float64(PHASE_UPSAMPLE))], 'turns')
    turns_frac = node(nodes, 'Sub', [scaled, node(nodes, 'Floor', [scaled], 'turns_floor')], 'turns_frac')
    offset = node(nodes, 'Div', [turns_frac, const(graph, 'upsample2', np.float64(PHASE_UPSAMPLE))], 'offset_d')
    return node(nodes, 'Cast', [offset], 'phase_offset', to=TensorProto.FLOAT)


def add_frame_weights(graph, nodes, start, end, frames):
    """Weight per window frame: 1, plus the dropped frame counts spread over the edge frames."""
    f = lambda t, name: node(nodes, 'Cast', [t], name, to=TensorProto.FLOAT)
    width = node(nodes, 'Sub', [end, start], 'width')
    edge = node(nodes, 'Min', [width, const(graph, 'edge', np.int64(EDGE_FRAMES))], 'edge_frames')
    index = f(node(nodes, 'Range', [const(graph, 'zero_r', np.int64(0)), width, const(graph, 'one', np.int64(1))], 'index'), 'index_f')
    edge_f = f(edge, 'edge_f')
    dropped_before = node(nodes, 'Div', [f(start, 'start_f'), edge_f], 'before_share')
    dropped_after = node(nodes, 'Div', [f(node(nodes, 'Sub', [frames, end], 'after'), 'after_f'), edge_f], 'after_share')
    is_head = f(node(nodes, 'Less', [index, edge_f], 'is_head'), 'is_head_f')
    tail_from = f(node(nodes, 'Sub', [width, edge], 'tail_from'), 'tail_from_f')
    is_tail = f(node(nodes, 'Not', [node(nodes, 'Less', [index, tail_from], 'before_tail')], 'is_tail'), 'is_tail_f')
    head_w = node(nodes, 'Mul', [is_head, dropped_before], 'head_w')
    tail_w = node(nodes, 'Mul', [is_tail, dropped_after], 'tail_w')
    return node(nodes, 'Add', [node(nodes, 'Add', [head_w, tail_w], 'extra_w'), const(graph, 'onef', np.float32(1))], 'frame_weight')


def weighted_time_means(graph, nodes, decoder_means, weight):
    """Replace each time-axis ReduceMean of the decoder by a mean weighted by `weight` (per frame)."""
    frames_f = node(nodes, 'Cast', [node(nodes, 'Shape', [weight], 'weight_shape')], 'weight_len', to=TensorProto.FLOAT)
    axis2 = const(graph, 'axis2m', np.array([2], np.int64))
    for k, mean in enumerate(decoder_means):
        x, p = mean.input[0], f'mean{k}/'
        # Layers run at 1, 2, 20 or 120 (+1) samples per frame: sample i belongs to frame floor(i * F / T).
        length = node(nodes, 'Gather', [node(nodes, 'Shape', [x], p + 'shape'), const(graph, 'two_s', np.int64(2))], p + 'len', axis=0)
        index = node(nodes, 'Cast', [node(nodes, 'Range', [const(graph, 'zero_s', np.int64(0)), length,
                                                           const(graph, 'one_s', np.int64(1))], p + 'range')], p + 'index', to=TensorProto.FLOAT)
        ratio = node(nodes, 'Div', [frames_f, node(nodes, 'Cast', [length], p + 'len_f', to=TensorProto.FLOAT)], p + 'ratio')
        frame = node(nodes, 'Cast', [node(nodes, 'Floor', [node(nodes, 'Mul', [index, ratio], p + 'pos')], p + 'floor')],
                     p + 'frame', to=TensorProto.INT64)
        w = node(nodes, 'Gather', [weight, frame], p + 'w', axis=0)
        total = node(nodes, 'ReduceSum', [node(nodes, 'Mul', [x, w], p + 'xw'), axis2], p + 'sum', keepdims=1)
        nodes.append(helper.make_node('Div', [total, node(nodes, 'ReduceSum', [w], p + 'wsum', keepdims=0)],
                                      [mean.output[0]], name=PREFIX + p + 'mean'))


def toposort(graph):
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {''}
    ordered, pending = [], list(graph.node)
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.input):
                ordered.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise SystemExit(f'graph has unresolved inputs near {rest[0].name}')
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def transform(model):
    graph = model.graph
    produced = {out for n in graph.node for out in n.output}
    missing = [t for t in (ASR, F0, ENERGY, PHASE_CUMSUM) if t not in produced]
    if missing:
        raise SystemExit(f'not the expected Kokoro v1.0 int8 export: tensors {missing} not found')
    encoder = encoder_nodes(graph)
    decoder = [n for n in graph.node if n.name not in encoder]
    decoder_means = [n for n in decoder if n.op_type == 'ReduceMean']
    axes = {tuple(numpy_helper.to_array(i).tolist()) for i in graph.initializer
            if i.name in {n.input[1] for n in decoder_means}}
    if len(decoder_means) != 108 or axes != {(2,)}:
        raise SystemExit(f'unexpected decoder norms: {len(decoder_means)} means over axes {axes}')

    nodes = []
    start, end, frames = add_window(graph, nodes)
    sliced, start2 = add_slices(graph, nodes, start, end)
    phase_offset = add_phase_offset(graph, nodes, start2)
    weight = add_frame_weights(graph, nodes, start, end, frames)
    for n in decoder:
        for k, name in enumerate(n.input):
            if name in sliced:
                n.input[k] = sliced[name]
            elif name == PHASE_CUMSUM:
                n.input[k] = PREFIX + 'phase'
    nodes.append(helper.make_node('Add', [PHASE_CUMSUM, phase_offset], [PREFIX + 'phase'], name=PREFIX + 'phase'))
    for mean in decoder_means:
        graph.node.remove(mean)
    weighted_time_means(graph, nodes, decoder_means, weight)
    graph.node.extend(nodes)
    del graph.value_info[:]  # shapes of the decoder's tensors change; let the runtime infer them
    toposort(graph)
    model.doc_string = (model.doc_string + '\n' if model.doc_string else '') + (
        f'speech-window decoder: energy > {ENERGY_THRESHOLD}, margin {MARGIN} frames, edge frames {EDGE_FRAMES}')
    return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit('usage: transform_model.py <kokoro-v1.0.int8.onnx> <output.onnx>')
    source, target = sys.argv[1], sys.argv[2]
    model = transform(onnx.load(source))
    onnx.checker.check_model(model)
    temp = f'{target}.tmp-{os.getpid()}'
    onnx.save(model, temp)
    os.replace(temp, target)


if __name__ == '__main__':
    main()
