"""python -m services.tuning"""

from services.runtime.main import run_service
from services.tuning.app import create_app
from services.tuning.settings import TuningSettings

if __name__ == "__main__":
    run_service("tuning", TuningSettings, create_app)
