"""The one-off GGUF conversion of the embedded model (factgap.models)."""

import gguf
from conftest import GGUF_FILE

from factgap.models import gguf_parsed_once


def test_gguf_file_is_parsed_once_inside_the_block_and_the_library_is_restored_after(smollm2_gguf_dir):
    path = smollm2_gguf_dir / GGUF_FILE
    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with gguf_parsed_once():
        first = gguf.GGUFReader(path)
        assert gguf.GGUFReader(str(path)) is first  # same file, another spelling of its path: parsed once
        arch = gguf.MODEL_ARCH.LLAMA
        assert gguf.get_tensor_name_map(arch, 30) is gguf.get_tensor_name_map(arch, 30)
        assert first.get_field("general.architecture") is not None
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == (reader, name_map)
    assert gguf.GGUFReader(path) is not first
