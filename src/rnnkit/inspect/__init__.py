"""See inside recurrent networks: the lessons of the founding texts as functions that measure and draw.

    gradients    state_gradient_norms(layer, x, dh_T): ||dL/dh_k||, ||dL/dc_k|| for every step k;
                 loss_gradient_by_distance(model, ids): ||dE_t/dh_{t-d}|| on real text; its picture and CSV
    cell_path    lstm_cell_path(layer, x): the LSTM's dc_t/dc_{t-d} beside the product of forget gates
    clipping     clipping_experiment(setup): an exploding RNN trained without clipping, by value, by norm
    memory       memory_task_table(tasks, cells, lengths): success against T on the memory tasks
                 (rnnkit.data.memory_tasks: adding, copy, temporal order, embedded Reber)
    states       trace_states(model, ids): every step's states and gates of a character model
    tracking     text_features, find_interpretable_cells, gate_saturation, the text coloured by a cell
    export       export_lstmvis (LSTMVis's states.h5 layout, h5py), export_safetensors
    reports      cells_report, cell_path_report, export_states: the workflows of ``rnnkit inspect``
    replay       run_layers, backward_states: a layer's passes replayed with every step kept

NumPy only, through the layers' public pieces (``cell_parameters``, ``forward_through_time``,
the cells' ``step_backward``); matplotlib and h5py are imported when a picture or an HDF5
file is written.
"""

from rnnkit.inspect.cell_path import lstm_cell_path, plot_cell_path
from rnnkit.inspect.clipping import ClippingSetup, clipping_experiment, plot_clipping
from rnnkit.inspect.export import export_lstmvis, export_safetensors
from rnnkit.inspect.gradients import (compare_gradient_distance, loss_gradient_by_distance, plot_gradient_distance,
                                      state_gradient_norms, write_gradient_distance_csv)
from rnnkit.inspect.memory import MemoryRunConfig, memory_task_table, plot_memory_success, train_memory_task
from rnnkit.inspect.reports import cell_path_report, cells_report, export_states
from rnnkit.inspect.states import StateTrace, trace_states
from rnnkit.inspect.tracking import (find_interpretable_cells, gate_saturation, plot_activation_text,
                                     plot_saturation, show_cell, text_features, write_activation_html)

__all__ = [
    "ClippingSetup", "MemoryRunConfig", "StateTrace",
    "cell_path_report", "cells_report", "clipping_experiment", "compare_gradient_distance", "export_lstmvis",
    "export_safetensors", "export_states", "find_interpretable_cells", "gate_saturation",
    "loss_gradient_by_distance", "lstm_cell_path", "memory_task_table", "plot_activation_text", "plot_cell_path",
    "plot_clipping", "plot_gradient_distance", "plot_memory_success", "plot_saturation", "show_cell",
    "state_gradient_norms", "text_features", "trace_states", "train_memory_task", "write_activation_html",
    "write_gradient_distance_csv",
]
