# segcore CUDA emulator (see include/segcore_cuda_emu.hpp). Needs the CUDA Toolkit's headers only
# (types, Thrust); no libcudart, no GPU.
#   segcore_emulate_cuda(target sources...): each .cu source goes through rewrite.py and is
#     compiled by the host compiler against the emulator's headers, into `target`.
#   segcore_emulate_cuda_runtime(target): adds the emulated CUDA runtime and cuBLAS (once, to the
#     library every emulated program links).
find_package(CUDAToolkit REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(SEGCORE_EMU_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SEGCORE_EMU_OPTIONS -include;segcore_cuda_emu.hpp;-Wno-unknown-pragmas;-Wno-unused-parameter;-Wno-sign-compare;-ffp-contract=off)
# A vector access (float4, float2, double) at an address its type's alignment does not divide is
# a "misaligned address" fault on the GPU and works on x86: UBSan's alignment check (the CUDA
# headers declare float4 16-byte aligned, float2 8) makes it an error here too, and aborts.
set(SEGCORE_EMU_SANITIZE -fsanitize=alignment;-fno-sanitize-recover=alignment)
list(APPEND SEGCORE_EMU_OPTIONS ${SEGCORE_EMU_SANITIZE})
# The kernels call fma() in their inner loops: an instruction where the building machine has one
# (the emulator runs where it is built), else a libm call. Contraction stays off either way.
if(EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo _segcore_cpuinfo)
  if(_segcore_cpuinfo MATCHES "[ \t]fma[ \t\n]")
    list(APPEND SEGCORE_EMU_OPTIONS -mfma)
  endif()
endif()

function(segcore_emulate_cuda_includes target)
  target_include_directories(${target} BEFORE PRIVATE ${SEGCORE_EMU_DIR}/include)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR} ${CUDAToolkit_INCLUDE_DIRS}
                                               ${CUDAToolkit_INCLUDE_DIRS}/cccl)
  target_compile_definitions(${target} PRIVATE THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP)
endfunction()

function(segcore_emulate_cuda target)
  set(generated)
  foreach(cu ${ARGN})
    string(REPLACE "/" "_" flat ${cu})
    set(out ${CMAKE_BINARY_DIR}/cuda_emu/${flat}.cpp)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${Python3_EXECUTABLE} ${SEGCORE_EMU_DIR}/rewrite.py ${PROJECT_SOURCE_DIR}/${cu} ${out}
      DEPENDS ${PROJECT_SOURCE_DIR}/${cu} ${SEGCORE_EMU_DIR}/rewrite.py
      COMMENT "Emulated CUDA: ${cu}")
    list(APPEND generated ${out})
  endforeach()
  set_source_files_properties(${generated} PROPERTIES COMPILE_OPTIONS "${SEGCORE_EMU_OPTIONS}")
  target_sources(${target} PRIVATE ${generated})
  segcore_emulate_cuda_includes(${target})
  target_link_options(${target} PUBLIC ${SEGCORE_EMU_SANITIZE})
endfunction()

function(segcore_emulate_cuda_runtime target)
  set_source_files_properties(${SEGCORE_EMU_DIR}/emu_runtime.cpp PROPERTIES
                              COMPILE_OPTIONS "${SEGCORE_EMU_OPTIONS}")
  target_sources(${target} PRIVATE ${SEGCORE_EMU_DIR}/emu_runtime.cpp)
  segcore_emulate_cuda_includes(${target})
endfunction()
