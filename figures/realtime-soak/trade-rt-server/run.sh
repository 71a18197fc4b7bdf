#!/bin/bash
(JACK_NO_AUDIO_RESERVATION=1 setsid jackd -n rt128 -S -R -P 70 -d dummy -r 48000 -p 128 > /tmp/jackd-rt128.log 2>&1 &)
sleep 3
cd TREE
JACK_DEFAULT_SERVER=rt128 PYTHONPATH=TREE PYTHON=.venv/bin/python figures/realtime-soak/ab.sh /tmp/rtab-rtjack 1 4 --trade > /tmp/rtab-rtjack.log 2>&1
pkill -f "jackd -n rt128"
echo done >> /tmp/rtab-rtjack.log
