"""factgap: fine-tuning on known vs unknown knowledge and what it does to factuality.

Each stage module has a pure core (unit-tested, no model or file I/O) and a thin shell
that the workflow scripts call.
"""

__version__ = "0.1.0"
