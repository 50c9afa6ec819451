"""The batched decoder's slot bookkeeping with per-sequence KV streams (no model loaded)."""

from __future__ import annotations

import types

from utils.backends.llamacpp_batch import BatchedDecoder, _Sequence


def _decoder(calls: list) -> BatchedDecoder:
    decoder = BatchedDecoder.__new__(BatchedDecoder)  # the bookkeeping only: no llama.cpp context
    decoder.split_kv = True
    decoder.ctx = types.SimpleNamespace(memory="memory")
    decoder.llama_cpp = types.SimpleNamespace(
        llama_memory_seq_rm=lambda memory, seq, p0, p1: calls.append(("rm", seq, p0, p1)),
        llama_memory_seq_cp=lambda memory, src, dst, p0, p1: calls.append(("cp", src, dst, p0, p1)))
    return decoder


def _active(*slots: int) -> list[_Sequence]:
    found = []
    for index, slot in enumerate(slots):
        seq = _Sequence(index, [1, 2, 3], None, False, 2)
        seq.seq_id = slot
        found.append(seq)
    return found


def test_sequences_above_a_free_slot_move_down_into_it_whole_stream_copied():
    calls: list = []
    active, free = _active(5, 1, 3), [2, 4, 6]
    _decoder(calls)._compact(active, free)
    assert [seq.seq_id for seq in active] == [1, 2, 3]
    assert [seq.index for seq in active] == [1, 0, 2]  # the sequence that was in slot 5 is in slot 2 now
    # Its stream copied whole into slot 2's (cleared first), then its old cells released.
    assert calls == [("rm", 2, 0, -1), ("cp", 5, 2, -1, -1), ("rm", 5, 0, -1)]
    assert sorted(free) == [4, 5, 6]


def test_consecutive_slots_are_left_alone():
    calls: list = []
    active, free = _active(2, 1, 3), [4]
    _decoder(calls)._compact(active, free)
    assert [seq.seq_id for seq in active] == [1, 2, 3] and calls == [] and free == [4]
