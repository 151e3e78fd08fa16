# Sourced (not run) by the scripts that fine-tune the real-data base model:
#
#   source scripts/real_base.sh "${1:-}"
#
# sets work (the work directory: the argument, default /tmp/sparsetune-real),
# base (the base model scripts/real_data.sh pretrains there) and spam (the
# shared SpamAssassin data), and stops the script, naming the file, when
# either is missing. The caller has cd'd to the repository root.
work=${1:-/tmp/sparsetune-real}
[[ -n $work ]] || work=/tmp/sparsetune-real
base=$work/pretrain/best
spam=../shared/datasets/spamassassin
for f in "$spam/train.jsonl" "$spam/valid.jsonl" "$spam/test.jsonl" "$base/config.json"; do
  [[ -f $f ]] || { echo "missing $f (the base model comes from scripts/real_data.sh)" >&2; exit 1; }
done
