"""Answer evaluation: every question of a data set answered by each configuration the way the chat
answers it, then judged (an LLM judge's 0-1 score against the reference), compared with the reference
(BERTScore F1 or cosine), checked for faithfulness (does cited source n say what the sentence says),
timed (first token, full answer) and priced (tokens × LLM_PRICES, a month of stated traffic).

``docstune eval-answers`` and the admin's Evaluate page (a job) run :func:`evaluate_answers`.
"""
from application.answer_eval.configs import DEFAULT_CONFIGS, AnswerConfig, ConfigError, parse_config
from application.answer_eval.runner import REFERENCES, evaluate_answers

__all__ = ["AnswerConfig", "ConfigError", "DEFAULT_CONFIGS", "REFERENCES", "evaluate_answers", "parse_config"]
