from pets.sources import local_files


def test_local_archives_are_recorded_by_size_and_mtime_and_remote_ones_left_to_their_params(tmp_path):
    archive = tmp_path / "images.tar"
    archive.write_bytes(b"tar")
    recipe = {"sources": [{"archives": [{"url": "https://example.com/images.tar"}, {"url": str(archive)}]},
                          {"archives": [{"url": archive.as_uri()}, {"url": str(tmp_path / "gone.tar")}]}]}
    first = local_files(recipe)
    assert [record["url"] for record in first] == [str(archive), archive.as_uri(), str(tmp_path / "gone.tar")]
    assert first[0]["size"] == 3 and first[2] == {"url": str(tmp_path / "gone.tar"), "missing": True}
    archive.write_bytes(b"tar, replaced")
    assert local_files(recipe)[0]["size"] == 13
    assert local_files({"builtin": "digits"}) == []


def test_a_malformed_recipe_is_left_for_the_download_stage_to_report():
    for recipe in (None, {"sources": "x"}, {"sources": [None, {"archives": 1}, {"archives": [{"url": 2}, "y"]}]}):
        assert local_files(recipe) == []
