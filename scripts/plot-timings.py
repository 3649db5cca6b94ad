"""Draws a clip's waveform under its timings: words and pauses shaded, mora starts dotted and labelled
with their phonemes, and the 10 ms RMS envelope below (the pictures in docs/timings.md).

    python scripts/plot-timings.py CLIP.wav OUT.png [TITLE]     (CLIP.wav.timings.json beside the clip)

Needs numpy and matplotlib (pip install numpy==2.4.6 matplotlib==3.11.2 in any venv).
"""

import json
import sys
import wave

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(clip, out, title=""):
    with wave.open(clip) as file:
        rate = file.getframerate()
        samples = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2") / 32768.0
    with open(clip + ".timings.json", encoding="utf-8") as file:
        timings = json.load(file)
    seconds = np.arange(len(samples)) / rate
    hop = rate // 100
    rms = np.sqrt([np.mean(samples[i : i + hop] ** 2) for i in range(0, len(samples) - hop + 1, hop)])

    figure, (wave_axes, rms_axes) = plt.subplots(
        2, 1, figsize=(14.4, 5.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    word_colours = ["#dcecfb", "#fdebd0"]
    words = 0
    for segment in timings["segments"]:
        if segment["kind"] == "pause":
            colour = "#f4a6a6"
        else:
            colour = word_colours[words % 2]
            words += 1
        for axes in (wave_axes, rms_axes):
            if segment["kind"] == "pause" or axes is wave_axes:
                axes.axvspan(segment["start"], segment["end"], color=colour, alpha=0.8, lw=0)
        for mora in segment["morae"]:
            wave_axes.axvline(mora["start"], color="grey", lw=0.6, ls=":")
            wave_axes.text(
                (mora["start"] + mora["end"]) / 2, 0.32, mora["phonemes"], ha="center", fontsize=10
            )
    wave_axes.plot(seconds, samples, color="#333333", lw=0.5)
    wave_axes.set_ylabel("sample")
    wave_axes.set_title(
        f"{title}{' — ' if title else ''}{timings['duration']:.3f} s; shaded: words (blue/orange), "
        "pauses (red); dotted: mora starts (labels: phonemes)"
    )
    rms_axes.plot(np.arange(len(rms)) * hop / rate, rms, color="#1565c0")
    rms_axes.set_ylabel("RMS 10 ms")
    rms_axes.set_xlabel("seconds")
    figure.tight_layout()
    figure.savefig(out, dpi=100)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:4])
