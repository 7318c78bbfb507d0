"""python -m services.filter"""

from services.filter.app import create_app
from services.filter.settings import FilterSettings
from services.runtime.main import run_service

if __name__ == "__main__":
    run_service("filter", FilterSettings, create_app)
