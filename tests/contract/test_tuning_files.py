from contracts import tuning_files
from contracts.tuning_files import (
    DeleteFile,
    FileChunkUploaded,
    FileUploadAborted,
    FileUploadCompleted,
    ReadFileContent,
)
from tests.contract.suite import ENVELOPE, ContractSuite

FILE = "file-0123456789abcdef01234567"
FILES = {**ENVELOPE, "deployment": "files"}


class TestTuningFiles(ContractSuite):
    module = tuning_files
    examples = [
        FileChunkUploaded(**FILES, file_id=FILE, sequence=0, data="eyJtZXNzYWdlcyI6IFtdfQo="),
        FileUploadCompleted(**FILES, file_id=FILE, chunks=1, bytes=17, sha256="0" * 64, purpose="fine-tune"),
        FileUploadAborted(**FILES, file_id=FILE, reason="too_large"),
        ReadFileContent(**FILES, file_id=FILE),
        DeleteFile(**FILES, file_id=FILE),
    ]

    def test_a_chunk_fits_a_kafka_message(self) -> None:
        assert tuning_files.MAX_CHUNK_BASE64 < 900 * 1024
