#!/bin/bash
# A/B of the partner's stall policy on one engine (HEAD), the old policy's three files put back in "old"
export JACK_DEFAULT_SERVER=mine PYTHON=/work/main/.venv/bin/python
i=0
for tag in new old old new new old; do
  i=$((i+1))
  tree=/tmp/wt-after; [ $tag = old ] && tree=/tmp/wt-before
  /work/main/figures/busy-soak/busy_soak.sh $tree /tmp/ab2/$i-$tag.json 4 > /tmp/ab2/$i-$tag.log 2>&1 &
  pid=$!
  sleep 20; d=$(ls -td /tmp/improv-soak-* | head -1)
  while kill -0 $pid 2>/dev/null; do cp $d/jam.stderr /tmp/ab2/$i-$tag.jamlog 2>/dev/null; sleep 5; done
  sleep 5
done
echo done > /tmp/ab2/done
