//! The model's predicted durations as extra graph outputs, so that every run returns the frames
//! each token lasts beside the audio, at no cost: the duration predictor computes them anyway.
//!
//! Kokoro v1.0's graph rounds and clamps the predicted durations (frames per token, speed
//! applied) and gathers them into `/encoder/Gather_output_0` (`[tokens]`, int64); the decoder
//! expands the text features by them. The speech-window model (scripts/transform-model) decodes
//! only the frames from `speech_window/start` on, so its audio begins that many frames later.
//!
//! No model file is rewritten: protobuf merges repeated occurrences of an embedded message
//! field, so a `ModelProto` fragment `{graph: {output: [ValueInfoProto]}}` appended to the
//! published bytes adds graph outputs and leaves every node, initializer and existing output
//! as it was (the test in `inference.rs` checks the audio against the model as published).

use crate::assets::ModelVariant;

/// Samples per predicted frame: Kokoro v1.0 decodes 600 samples (25 ms at 24 kHz) per frame;
/// `inference::tests` checks it against the audio length of a run.
pub(crate) const SAMPLES_PER_FRAME: usize = 600;

/// How much earlier the audio of a token sounds than its predicted frames say: one frame.
/// Measured, not derived: over the 316 clips of the sample course, the energy envelope matched the
/// predicted speech/silence pattern (morae sounding, っ and pauses silent) best 23 ms earlier
/// (correlation within 0.3% of its peak from 20 to 25 ms, 22% lower at 0 ms), and the silences of
/// 38 っ sat 21 ms (median; quartiles 17 and 33 ms) before their predicted centre.
pub(crate) const AUDIO_LEAD_SAMPLES: usize = SAMPLES_PER_FRAME;

/// Frames per token (with the pads), after rounding, clamping and the speed.
pub(crate) const DURATIONS: &str = "/encoder/Gather_output_0";
/// First decoded frame of the speech-window model (a scalar); the untouched model starts at 0.
pub(crate) const WINDOW_START: &str = "speech_window/start";

/// The outputs a run of `variant` asks for after `audio`.
pub(crate) fn extra_outputs(variant: ModelVariant) -> &'static [&'static str] {
    match variant {
        ModelVariant::Untouched => &[DURATIONS],
        ModelVariant::SpeechWindow => &[DURATIONS, WINDOW_START],
    }
}

/// `model` (the bytes of an ONNX `ModelProto`) with `names` added as int64 graph outputs.
pub(crate) fn with_int64_outputs(mut model: Vec<u8>, names: &[&str]) -> Vec<u8> {
    const MODEL_GRAPH: u32 = 7; // ModelProto.graph
    const GRAPH_OUTPUT: u32 = 12; // GraphProto.output
    const VALUE_NAME: u32 = 1; // ValueInfoProto.name
    const VALUE_TYPE: u32 = 2; // ValueInfoProto.type
    const TYPE_TENSOR: u32 = 1; // TypeProto.tensor_type
    const INT64: u8 = 7; // TensorProto.DataType.INT64, as TypeProto.Tensor.elem_type (field 1, varint)
    let mut graph = Vec::new();
    for name in names {
        let tensor_type = [0x08, INT64];
        let mut value_info = length_delimited(VALUE_NAME, name.as_bytes());
        value_info.extend(length_delimited(
            VALUE_TYPE,
            &length_delimited(TYPE_TENSOR, &tensor_type),
        ));
        graph.extend(length_delimited(GRAPH_OUTPUT, &value_info));
    }
    model.extend(length_delimited(MODEL_GRAPH, &graph));
    model
}

fn length_delimited(field: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = varint(u64::from(field) << 3 | 2);
    bytes.extend(varint(payload.len() as u64));
    bytes.extend_from_slice(payload);
    bytes
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return bytes;
        }
        bytes.push(low | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_are_encoded_as_protobuf_does() {
        assert_eq!(varint(1), [1]);
        assert_eq!(varint(300), [0xac, 0x02]);
        assert_eq!(length_delimited(7, b"ab"), [0x3a, 2, b'a', b'b']);
        // {graph {output {name "x" type {tensor_type {elem_type 7}}}}}
        assert_eq!(
            with_int64_outputs(vec![0xff], &["x"]),
            [
                0xff, 0x3a, 11, 0x62, 9, 0x0a, 1, b'x', 0x12, 4, 0x0a, 2, 0x08, 7
            ]
        );
    }
}
