//! One task's speech: where text becomes phonemes (`prepare`) and phonemes become audio
//! (`synthesize`).

#[cfg(test)]
use crate::audio::trim_silence;
use crate::audio::{join_chunks, kept_range};
use crate::duration_outputs::{AUDIO_LEAD_SAMPLES, SAMPLES_PER_FRAME};
use crate::engine::Engine;
use crate::error::TaskErrorKind;
use crate::inference::{InferenceSlot, RunStop};
use crate::timeline::{PhonemeTimeline, TimedToken};
use crate::vocab::{MAX_TOKENS, Vocab};
use crate::voices::Voice;
use ja_g2p::UserDictionary;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// Speeds the model is asked for; outside this range speech degrades.
pub const SPEED_RANGE: RangeInclusive<f32> = 0.5..=2.0;

/// What a task asks to be spoken.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpeechRequest<'a> {
    pub(crate) text: &'a str,
    /// Phonemes given by the caller: used as they are, without G2P.
    pub(crate) phonemes: Option<&'a str>,
    pub(crate) voice: &'a str,
    pub(crate) speed: f32,
    /// The author's readings the G2P uses.
    pub(crate) user_dictionary: Option<&'a UserDictionary>,
    /// Keep which text became which phonemes, for the timings.
    pub(crate) align: bool,
}

/// A task ready for inference: its phonemes, cut into model-sized token chunks.
pub(crate) struct PreparedSpeech {
    pub(crate) phonemes: String,
    /// Where the phonemes came from in the text, when asked for and the text was read.
    pub(crate) alignment: Option<Box<ja_g2p::Alignment>>,
    chunks: Vec<Chunk>,
    voice: Arc<Voice>,
    speed: f32,
}

pub(crate) fn check_speed(speed: f32) -> Result<(), TaskErrorKind> {
    if speed.is_finite() && SPEED_RANGE.contains(&speed) {
        Ok(())
    } else {
        Err(TaskErrorKind::InvalidSpeed { speed })
    }
}

/// One model run's tokens: their ids and the character of the task's phonemes each was made of.
#[derive(Debug, Clone, PartialEq)]
struct Chunk {
    token_ids: Vec<i64>,
    phoneme_indices: Vec<usize>,
}

/// The phonemes a task speaks: those given, else `phonemize` of its text. Blocking.
pub(crate) fn phonemes_to_speak(
    text: &str,
    given: Option<&str>,
    phonemize: impl FnOnce(&str) -> Result<String, TaskErrorKind>,
) -> Result<String, TaskErrorKind> {
    match given.map(str::trim).filter(|given| !given.is_empty()) {
        Some(given) => Ok(given.to_string()),
        None => phonemize(text),
    }
}

/// Text to phonemes (ja-g2p, unless phonemes are given) to token chunks of at most 510 tokens,
/// cut at sentence, then clause, then word boundaries. Blocking: runs the G2P.
pub(crate) fn prepare(
    engine: &Engine,
    request: &SpeechRequest,
) -> Result<PreparedSpeech, TaskErrorKind> {
    check_speed(request.speed)?;
    let voice = engine.voices.get(request.voice)?;
    let mut alignment = None;
    let phonemes = phonemes_to_speak(request.text, request.phonemes, |text| {
        if !request.align {
            return engine.phonemize(text, request.user_dictionary);
        }
        let aligned = engine.align(text, request.user_dictionary)?;
        let phonemes = aligned.phonemes.clone();
        alignment = Some(Box::new(aligned));
        Ok(phonemes)
    })?;
    // Pieces are the phonemes' own characters in order, only whitespace dropped between them.
    let mut next_char = 0;
    let mut chunks = Vec::new();
    for piece in ja_g2p::split_phonemes(&phonemes, MAX_TOKENS) {
        let first = next_char
            + phonemes
                .chars()
                .skip(next_char)
                .take_while(|c| c.is_whitespace())
                .count();
        next_char = first + piece.chars().count();
        // A chunk of only spaces and punctuation would come out as noise: leave it out.
        if !engine.vocab.is_speakable(&piece) {
            continue;
        }
        let (phoneme_indices, token_ids) = engine
            .vocab
            .tokens(&piece)
            .map(|(index, id)| (first + index, id))
            .unzip();
        chunks.push(Chunk {
            token_ids,
            phoneme_indices,
        });
    }
    if chunks.is_empty() {
        return Err(TaskErrorKind::NothingSpeakable {
            detail: format!("the phonemes {phonemes:?} contain no symbol the model knows"),
        });
    }
    Ok(PreparedSpeech {
        phonemes,
        alignment,
        chunks,
        voice,
        speed: request.speed,
    })
}

/// A task's audio and where each of its phonemes sounds in it.
pub(crate) struct Speech {
    pub(crate) audio: Vec<f32>,
    pub(crate) timeline: PhonemeTimeline,
}

/// Runs the model on every chunk in turn (holding one slot), trims each and joins them, keeping
/// the predicted durations of every token through the trimming and joining.
/// Blocking. A run terminated through `stop` returns the runtime's error; the caller knows why.
pub(crate) fn synthesize(
    engine: &Engine,
    prepared: &PreparedSpeech,
    slot: &InferenceSlot,
    stop: &RunStop,
) -> Result<Speech, TaskErrorKind> {
    let mut runs = Vec::with_capacity(prepared.chunks.len());
    for chunk in &prepared.chunks {
        let style = prepared.voice.style_for(chunk.token_ids.len());
        let decoded = engine
            .model
            .run(
                slot,
                Vocab::padded(&chunk.token_ids),
                style,
                prepared.speed,
                stop,
            )
            .map_err(|cause| TaskErrorKind::Inference { cause })?;
        let kept = kept_range(&decoded.audio);
        runs.push((decoded, kept));
    }
    let kept_audio: Vec<&[f32]> = runs
        .iter()
        .map(|(decoded, kept)| &decoded.audio[kept.clone()])
        .collect();
    let (audio, starts) = join_chunks(&kept_audio);
    let mut tokens = Vec::new();
    for ((chunk, (decoded, kept)), chunk_start) in prepared.chunks.iter().zip(&runs).zip(starts) {
        // Padded tokens: a pad, the chunk's tokens, a pad.
        let phoneme_of = |token: usize| {
            token
                .checked_sub(1)
                .and_then(|index| chunk.phoneme_indices.get(index).copied())
        };
        let kept_len = kept.len() as i64;
        let to_file = |frame: i64| {
            let sample = (frame - decoded.first_frame) * SAMPLES_PER_FRAME as i64
                - AUDIO_LEAD_SAMPLES as i64
                - kept.start as i64;
            chunk_start + sample.clamp(0, kept_len) as usize
        };
        let last = decoded.frames_per_token.len().saturating_sub(1);
        let mut frame = 0i64;
        for (token, &frames) in decoded.frames_per_token.iter().enumerate() {
            // The closing pad holds whatever the lead leaves after it.
            let end = if token == last {
                chunk_start + kept.len()
            } else {
                to_file(frame + frames)
            };
            tokens.push(TimedToken {
                phoneme: phoneme_of(token),
                samples: to_file(frame)..end,
            });
            frame += frames;
        }
    }
    let timeline = PhonemeTimeline {
        tokens,
        samples: audio.len(),
    };
    Ok(Speech { audio, timeline })
}

/// A request to speak `phonemes` as given, with jf_alpha at speed 1.
#[cfg(test)]
pub(crate) fn phonemes_request(phonemes: &str) -> SpeechRequest<'_> {
    SpeechRequest {
        text: "",
        phonemes: Some(phonemes),
        voice: "jf_alpha",
        speed: 1.0,
        user_dictionary: None,
        align: false,
    }
}

/// What the model returns for one chunk of `phonemes` (jf_alpha, speed 1), before trimming.
#[cfg(test)]
pub(crate) async fn raw_audio(engine: &Engine, phonemes: &str) -> Vec<f32> {
    let prepared = prepare(engine, &phonemes_request(phonemes)).unwrap();
    let [Chunk { token_ids, .. }] = prepared.chunks.as_slice() else {
        panic!("{phonemes:?} is one chunk");
    };
    let slot = engine.model.acquire_slot().await.unwrap();
    engine
        .model
        .run(
            &slot,
            Vocab::padded(token_ids),
            prepared.voice.style_for(token_ids.len()),
            prepared.speed,
            &RunStop::new().unwrap(),
        )
        .unwrap()
        .audio
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::ModelVariant;
    use crate::engine::EngineOptions;
    use crate::layout::InferenceLayout;
    use crate::test_support::{LONG_PHONEMES, SHORT_PHONEMES, engine};

    #[test]
    fn long_phonemes_are_cut_into_model_sized_chunks_at_sentence_ends() {
        let engine = engine();
        let twice = format!("{LONG_PHONEMES} {LONG_PHONEMES}");
        let prepared = prepare(&engine, &phonemes_request(&twice)).unwrap();
        assert_eq!(prepared.chunks.len(), 2);
        assert!(
            prepared
                .chunks
                .iter()
                .all(|chunk| chunk.token_ids.len() <= MAX_TOKENS)
        );
        let all_tokens: usize = prepared.chunks.iter().map(|c| c.token_ids.len()).sum();
        assert_eq!(
            all_tokens + 1,
            engine.vocab.token_ids(&twice).len(),
            "only the space at the cut is dropped"
        );
        let symbols: Vec<char> = twice.chars().collect();
        for chunk in &prepared.chunks {
            let pointed: String = chunk.phoneme_indices.iter().map(|&i| symbols[i]).collect();
            assert_eq!(
                engine.vocab.token_ids(&pointed),
                chunk.token_ids,
                "each token points at the symbol it was made of"
            );
        }
        let indices: Vec<usize> = prepared
            .chunks
            .iter()
            .flat_map(|chunk| chunk.phoneme_indices.iter().copied())
            .collect();
        assert!(indices.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(indices.last(), Some(&(symbols.len() - 1)));
        let one = prepare(&engine, &phonemes_request(LONG_PHONEMES)).unwrap();
        assert_eq!(
            one.chunks,
            vec![Chunk {
                token_ids: engine.vocab.token_ids(LONG_PHONEMES),
                phoneme_indices: (0..LONG_PHONEMES.chars().count()).collect(),
            }]
        );
    }

    /// The tokens' times tile the file: the first starts at 0, each starts where the one before
    /// ended, the last ends within a frame of the end; at speed 2 the same speech takes about half.
    #[tokio::test]
    async fn token_times_cover_the_trimmed_audio_at_any_speed() {
        let engine = engine();
        let mut lengths = Vec::new();
        for speed in [1.0, 2.0] {
            let prepared = prepare(
                &engine,
                &SpeechRequest {
                    speed,
                    ..phonemes_request("ɡaʔkoː de, hoɴ o jomʲimasɨ.")
                },
            )
            .unwrap();
            let slot = engine.model.acquire_slot().await.unwrap();
            let speech = synthesize(&engine, &prepared, &slot, &RunStop::new().unwrap()).unwrap();
            let tokens = &speech.timeline.tokens;
            assert_eq!(speech.timeline.samples, speech.audio.len());
            assert_eq!(tokens[0].samples.start, 0);
            assert!(
                tokens
                    .windows(2)
                    .all(|pair| pair[0].samples.end == pair[1].samples.start)
            );
            let end = tokens.last().unwrap().samples.end;
            assert!(
                speech.audio.len() - end < SAMPLES_PER_FRAME,
                "{end} of {}",
                speech.audio.len()
            );
            let phonemes = prepared.phonemes.chars().count();
            assert_eq!(tokens.len(), phonemes + 2, "every symbol and the two pads");
            lengths.push(speech.timeline.span_of(0..phonemes).unwrap().len() as f64);
        }
        let ratio = lengths[1] / lengths[0];
        assert!(
            (0.35..=0.65).contains(&ratio),
            "speed 2 takes {ratio} of speed 1"
        );
    }

    #[test]
    fn speed_must_be_finite_and_within_range() {
        for speed in [0.5, 1.0, 2.0] {
            assert!(check_speed(speed).is_ok());
        }
        for speed in [0.49, 2.01, 0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(check_speed(speed).is_err(), "{speed}");
        }
    }

    /// (samples the model returned, samples kept after trimming) for a one-chunk request.
    async fn raw_and_trimmed_samples(engine: &Engine, phonemes: &str) -> (usize, usize) {
        let audio = raw_audio(engine, phonemes).await;
        (audio.len(), trim_silence(&audio).len())
    }

    /// The speech-window model decodes fewer frames (600 samples each) for the same kept speech;
    /// if the transformation stops applying, its count goes back to the untouched one.
    #[tokio::test]
    async fn the_speech_window_model_decodes_fewer_frames_for_the_same_speech() {
        let untouched = engine(); // the test engine loads the default, untouched model
        let speech_window = Engine::shared(&EngineOptions {
            model: ModelVariant::SpeechWindow,
            layout: InferenceLayout {
                slots: 1,
                threads_per_slot: 1,
            },
            ..crate::test_support::engine_options()
        })
        .unwrap();
        let (untouched_raw, untouched_kept) =
            raw_and_trimmed_samples(&untouched, SHORT_PHONEMES).await;
        let (window_raw, window_kept) =
            raw_and_trimmed_samples(&speech_window, SHORT_PHONEMES).await;
        assert_eq!(untouched_raw, 27_600, "46 frames");
        assert_eq!(window_raw, 20_400, "34 frames");
        let ratio = window_kept as f64 / untouched_kept as f64;
        assert!(
            (0.97..=1.03).contains(&ratio),
            "kept {window_kept} vs {untouched_kept} samples"
        );
    }
}
