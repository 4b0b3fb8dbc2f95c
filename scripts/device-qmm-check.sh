#!/bin/bash
# device-qmm-check.sh - the quantized-matmul check on the device tool's machine, in one call:
# build, test_qmm and test_qmm_gemm (every ISA level), then bench_qmm (M = 1..64; M1_RUNS=n: n runs
# of M = 1), bench_qmm_prefill
# (M = 512) and bench_quantize on 2 pinned cores, results under $OUT.
#
# That machine has no Debian packages and no network: fetch OpenBLAS and PCRE2 here first, then
# carry them (run tool: carry [".debs/debs"]; command: bash scripts/device-qmm-check.sh):
#   mkdir -p .debs/debs && (cd .debs/debs && apt-get download libopenblas-dev \
#     libopenblas-pthread-dev libopenblas0-pthread libopenblas0 libgfortran5 libpcre2-dev \
#     libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3)
# OpenBLAS takes that VM's Xeon for "Prescott" (SSE3) unless OPENBLAS_CORETYPE=SkylakeX.
set -u
ROOT=$PWD
B=/tmp/blead
lscpu | grep -E "Model name" ; grep -m1 -o -w -E "avx512_bf16" /proc/cpuinfo
P=/tmp/pfx; mkdir -p $P
for d in $ROOT/.debs/debs/*.deb; do
  if which dpkg >/dev/null 2>&1; then dpkg -x $d $P; else (cd /tmp && rm -rf arx && mkdir arx && cd arx && ar x $d && tar xf data.tar.* -C $P); fi
done
L=$P/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_SYSROOT_DIR=$P
export PKG_CONFIG_PATH=$L/pkgconfig:$L/openblas-pthread/pkgconfig
export LD_LIBRARY_PATH=$L:$L/openblas-pthread
export OPENBLAS_CORETYPE=SkylakeX OPENBLAS_THREAD_TIMEOUT=4
t0=$(date +%s)
cmake -S $ROOT -B $B -DCMAKE_BUILD_TYPE=Release > /tmp/cm.log 2>&1 || tail -20 /tmp/cm.log
cmake --build $B -j16 --target test_qmm test_qmm_gemm bench_qmm bench_qmm_prefill bench_quantize > /tmp/bd.log 2>&1 || { grep -m20 -A10 "error" /tmp/bd.log; }
echo "build s: $(( $(date +%s) - t0 ))"
$B/tests/test_qmm > $OUT/test_qmm.log 2>&1; echo "test_qmm rc $?: $(tail -1 $OUT/test_qmm.log)"
$B/tests/test_qmm_gemm > $OUT/test_qmm_gemm.log 2>&1; echo "test_qmm_gemm rc $?: $(tail -1 $OUT/test_qmm_gemm.log)"
t0=$(date +%s)
taskset -c 0,1 $B/bench/bench_qmm 5 full all 1,2,4,8,16,64 > $OUT/bench_qmm.jsonl 2>&1
for i in $(seq 2 ${M1_RUNS:-1}); do  # more M = 1 runs: the VM is noisy
  taskset -c 0,1 $B/bench/bench_qmm 5 full all 1 > $OUT/bench_qmm_m1_$i.jsonl 2>&1
done
echo "bench_qmm s: $(( $(date +%s) - t0 ))"
t0=$(date +%s)
taskset -c 0,1 $B/bench/bench_qmm_prefill 3 full > $OUT/bench_prefill.jsonl 2>&1
echo "prefill s: $(( $(date +%s) - t0 ))"
taskset -c 0,1 $B/bench/bench_quantize > $OUT/bench_quantize.jsonl 2>&1
python3 - <<'PY'
import json,os
o=os.environ['OUT']
fs=sorted(f for f in os.listdir(o) if f.startswith('bench_qmm'))+['bench_prefill.jsonl']
for f in fs:
  for l in open(os.path.join(o,f)):
    try: d=json.loads(l)
    except Exception: print(l.strip()[:150]); continue
    if 'format' in d:
      print(f.replace('.jsonl','')[6:],d['format'],d.get('N'),d['M'],d['x'][:4],'bw%.2f'%d.get('read_bw_ratio',0) if d['M']<=16 else '', 'pk%.2f'%d.get('fma_peak_ratio',0) if 'fma_peak_ratio' in d else '', 'sg%.2f'%d.get('sgemm_ratio',0) if 'sgemm_ratio' in d else '')
    else: print(l.strip()[:200])
PY
