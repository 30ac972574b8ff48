# Driver for the docs.* tests (see doc_example_tests.cmake): runs one examples/docs program once
# or twice in a fresh directory and checks what the docs say it does. Run as
#   cmake -DEXE=<program> -DWORK_DIR=<scratch dir> [-DLAUNCHER=<mpiexec|-n|2, '|'-separated>]
#         -DARGS1=<arguments> [-DENV1=<NAME=VALUE ...>] [-DRC1=<exit status, default 0>]
#         [-DOUT1=<regex the output must match>] [-DFILES1=<paths that must exist>]
#         [-DABSENT1=<paths that must not exist>] [-DARGS2=... and so on for a second run]
#         -P run_doc_example.cmake
# ARGSn, ENVn, FILESn and ABSENTn are split like a shell command line; @WORK@ in them is WORK_DIR.
# Paths are relative to WORK_DIR, where the program runs.
cmake_minimum_required(VERSION 3.21)

foreach(_arg EXE WORK_DIR)
  if(NOT DEFINED ${_arg})
    message(FATAL_ERROR "run_doc_example.cmake: -D${_arg}=... is required")
  endif()
endforeach()

# A fresh directory, so a checkpoint left by an earlier run can never make a test pass.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# Only the environment the test sets: no CKPT_* knob or batch job id of the caller's shell.
execute_process(COMMAND ${CMAKE_COMMAND} -E environment OUTPUT_VARIABLE _env)
string(REGEX MATCHALL "(^|\n)(CKPT_[A-Za-z0-9_]*|SLURM_JOB_ID|SLURM_JOB_END_TIME|PBS_JOBID|LSB_JOBID)=" _names "${_env}")
foreach(_name IN LISTS _names)
  string(REGEX REPLACE "[\n=]" "" _name "${_name}")
  unset(ENV{${_name}})
endforeach()

string(REPLACE "|" ";" launcher "${LAUNCHER}")

# The words of a -D value, with @WORK@ replaced.
function(words out text)
  string(REPLACE "@WORK@" "${WORK_DIR}" text "${text}")
  separate_arguments(text UNIX_COMMAND "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

foreach(n 1 2)
  if(NOT DEFINED ARGS${n})
    continue()
  endif()
  words(args "${ARGS${n}}")
  words(env "${ENV${n}}")
  set(expected_rc 0)
  if(DEFINED RC${n})
    set(expected_rc ${RC${n}})
  endif()

  set(saved "")
  foreach(assignment IN LISTS env)
    string(REGEX MATCH "^[^=]+" name "${assignment}")
    string(LENGTH "${name}=" skip)
    string(SUBSTRING "${assignment}" ${skip} -1 value)
    set(ENV{${name}} "${value}")
    list(APPEND saved ${name})
  endforeach()

  set(cmd ${launcher} ${EXE} ${args})
  string(REPLACE ";" " " shown "${cmd}")
  if(env)
    string(REPLACE ";" " " shown_env "${env}")
    set(shown "${shown_env} ${shown}")
  endif()
  message(STATUS "run ${n}: ${shown}")
  execute_process(COMMAND ${cmd} WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  foreach(name IN LISTS saved)
    unset(ENV{${name}})
  endforeach()

  set(problems "")
  if(NOT rc STREQUAL expected_rc)
    string(APPEND problems "  exit status ${rc}, expected ${expected_rc}\n")
  endif()
  if(DEFINED OUT${n} AND NOT out MATCHES "${OUT${n}}")
    string(APPEND problems "  output does not match \"${OUT${n}}\"\n")
  endif()
  words(files "${FILES${n}}")
  foreach(f IN LISTS files)
    if(NOT EXISTS ${WORK_DIR}/${f})
      string(APPEND problems "  ${f} does not exist\n")
    endif()
  endforeach()
  words(absent "${ABSENT${n}}")
  foreach(f IN LISTS absent)
    if(EXISTS ${WORK_DIR}/${f})
      string(APPEND problems "  ${f} exists, but should not\n")
    endif()
  endforeach()
  if(problems)
    file(GLOB_RECURSE listing RELATIVE ${WORK_DIR} ${WORK_DIR}/*)
    string(REPLACE ";" "\n  " listing "${listing}")
    message(FATAL_ERROR "run ${n} (in ${WORK_DIR}): ${shown}\n${problems}output:\n${out}\nfiles:\n  ${listing}")
  endif()
endforeach()
message(STATUS "passed")
