"""python -m services.retention"""

from services.retention.app import create_app
from services.retention.settings import RetentionSettings
from services.runtime.main import run_service

if __name__ == "__main__":
    run_service("retention", RetentionSettings, create_app)
