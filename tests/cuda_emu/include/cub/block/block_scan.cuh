// segcore CUDA emulator: see cub/emulated_block.cuh.
#pragma once
#include "../emulated_block.cuh"
