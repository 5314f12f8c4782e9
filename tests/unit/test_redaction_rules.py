"""Redaction's pure rules: boxes, following people, keyframes and the record's box list."""

from __future__ import annotations

import pytest

from custody.domain.redaction import (
    Box,
    Detection,
    FrameBox,
    Track,
    box_at,
    decode_boxes,
    encode_boxes,
    found_again,
    frame_boxes,
    iou,
    merge_tracks,
    mute_ranges,
    recall,
    track_boxes,
    track_detections,
)


def test_overlap_of_boxes() -> None:
    a = Box(0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou(a, Box(10, 0, 20, 10)) == 0.0
    assert iou(a, Box(3, 3, 3, 3)) == 0.0


def test_two_people_crossing_keep_their_own_tracks() -> None:
    # Ann walks right, Ben walks left; they pass each other between frames 12 and 15.
    frames = []
    for frame in range(0, 30, 3):
        ann = Box(10 + 4 * frame, 100, 60 + 4 * frame, 160)
        ben = Box(130 - 4 * frame, 100, 180 - 4 * frame, 160)
        frames.append((frame, [Detection(frame, ann, 0.9), Detection(frame, ben, 0.8)]))
    tracks = track_detections(frames, iou_threshold=0.1)
    assert len(tracks) == 2
    ann_track = next(t for t in tracks if t.detections[0].score == 0.9)
    assert all(d.score == 0.9 for d in ann_track.detections)
    assert (ann_track.first_frame, ann_track.last_frame) == (0, 27)


def test_a_face_gone_longer_than_the_gap_starts_a_new_track() -> None:
    box = Box(0, 0, 50, 50)
    frames = [(0, [Detection(0, box, 0.9)]), (30, [Detection(30, box, 0.9)])]
    assert len(track_detections(frames, max_gap=25)) == 2
    assert len(track_detections(frames, max_gap=30)) == 1


def test_a_lost_person_found_again_is_merged_into_one_track() -> None:
    frames = [(0, [Detection(0, Box(0, 0, 50, 50), 0.9)]),
              (40, [Detection(40, Box(200, 0, 250, 50), 0.7)])]  # fmt: skip
    tracks = track_detections(frames)
    merged = merge_tracks(tracks, 1, 2)
    assert [t.id for t in merged] == [1]
    assert [d.frame for d in merged[0].detections] == [0, 40]
    with pytest.raises(ValueError):
        merge_tracks(tracks, 1, 1)
    with pytest.raises(ValueError):
        merge_tracks(tracks, 1, 9)


def test_a_person_found_again_soon_where_they_were_heading_is_likely_the_same() -> None:
    """Walking right 5 px a frame, hidden for 10 frames: found again 50 px on is the same
    person; found at the far side of the frame, or long after, or before the end, is not."""
    walking = Track(1, [Detection(f, Box(5 * f, 100, 5 * f + 40, 140), 0.9) for f in (0, 3, 6)])
    again = Track(2, [Detection(16, Box(80, 100, 120, 140), 0.8)])
    far = Track(3, [Detection(16, Box(500, 100, 540, 140), 0.8)])
    late = Track(4, [Detection(200, Box(1000, 100, 1040, 140), 0.8)])
    during = Track(5, [Detection(4, Box(25, 100, 65, 140), 0.8)])
    assert found_again(walking, again, within=75)
    assert not found_again(walking, far, within=75)
    assert not found_again(walking, late, within=75)
    assert not found_again(walking, during, within=75)
    assert not found_again(walking, again, within=5)


def test_boxes_between_detections_are_interpolated_and_held_at_the_ends() -> None:
    keys = [(0, Box(0, 0, 10, 10)), (10, Box(100, 0, 110, 10))]
    assert box_at(keys, 5) == Box(50, 0, 60, 10)
    assert box_at(keys, 10) == Box(100, 0, 110, 10)
    assert box_at(keys, 12) is None
    assert box_at(keys, 12, hold=2) == Box(100, 0, 110, 10)
    assert box_at([], 3) is None


def test_a_track_covers_every_frame_from_first_to_last_detection() -> None:
    frames = [(f, [Detection(f, Box(f, 0, f + 20, 20), 0.9)]) for f in range(3, 30, 3)]
    (track,) = track_detections(frames)
    covered = track_boxes(track, 100, hold=3)
    assert sorted(covered) == list(range(0, 31))


def test_blur_areas_are_whole_pixels_inside_the_frame() -> None:
    boxes = frame_boxes({0: Box(-5.5, 10.2, 20.7, 30.1), 1: Box(700, 0, 800, 10)},
                        "track:1", scale=1.0, width=640, height=360)  # fmt: skip
    assert boxes == [FrameBox(0, 0, 10, 21, 31, "track:1")]


def test_the_box_list_survives_its_compact_form_and_refuses_garbage() -> None:
    boxes = [FrameBox(f, f, 2, f + 10, 20, f"track:{f % 3}") for f in range(500)]
    text = encode_boxes(boxes)
    assert len(text) < 6_000
    assert decode_boxes(text) == sorted(boxes, key=lambda b: (b.frame, b.source, b.x1, b.y1))
    for bad in ("not base64!", encode_boxes([]) + "x", "eJzLSM3JyQcABiwCFQ=="):
        with pytest.raises(ValueError):
            decode_boxes(bad)


def test_mute_ranges_are_joined_and_checked() -> None:
    assert mute_ranges([(5, 6), (1, 2), (1.5, 3)]) == [(1, 3), (5, 6)]
    for bad in ([(-1, 2)], [(3, 3)], [(4, 2)], [(1, float("inf"))], [(float("nan"), 2)]):
        with pytest.raises(ValueError):
            mute_ranges(bad)


def test_recall_counts_each_found_box_once() -> None:
    face = Box(0, 0, 10, 10)
    truth = {0: [face, face], 1: [face]}
    assert recall(truth, {0: [face], 1: [Box(8, 8, 18, 18)]}) == (1, 3)
    assert recall(truth, {0: [face, face], 1: [face]}) == (3, 3)
