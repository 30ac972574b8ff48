# Batch-system scripts (tools/scripts, docs/batch-systems.md): shell tests with real processes and
# real signals, each in a private temporary directory (kept and named on failure). Included by
# tests/CMakeLists.txt. Label: scripts. Exit 77 is a skip (e.g. the root-only test as non-root).
set(_ckpt_script_tests_dir ${CMAKE_CURRENT_LIST_DIR})
set(_ckpt_script_tests_env
    "CKPT_SCRIPTS=${PROJECT_SOURCE_DIR}/tools/scripts"
    "CKPT_COMMAND=${PROJECT_BINARY_DIR}/tools/ckpt"
    "CKPT_TEST_HEAT=${PROJECT_BINARY_DIR}/examples/heat"
    "CKPT_TEST_MPIEXEC=${MPIEXEC_EXECUTABLE}")

# ckpt_script_test(NAME SCRIPT PROCESSORS [ARG...])
function(ckpt_script_test name script processors)
  add_test(NAME scripts.${name} COMMAND bash ${_ckpt_script_tests_dir}/${script} ${ARGN})
  set_tests_properties(scripts.${name} PROPERTIES
                       LABELS scripts ENVIRONMENT "${_ckpt_script_tests_env}" SKIP_RETURN_CODE 77
                       TIMEOUT 600 PROCESSORS ${processors})
endfunction()

ckpt_script_test(usage_errors_are_one_line_and_nonzero usage_errors.sh 1)
ckpt_script_test(ckpt_run_passes_on_statuses_and_signals ckpt_run.sh 1 basics)
if(CKPT_BUILD_EXAMPLES AND CKPT_BUILD_TOOLS)
  # MPICH 4.0's mpiexec reports 0 for a TERM'd 1-rank job that exited 85, often at 2 ranks too
  ckpt_script_test(ckpt_run_exits_85_after_term.np1 ckpt_run.sh 1 term 1)
  ckpt_script_test(ckpt_run_exits_85_after_term.np2 ckpt_run.sh 2 term 2)
  ckpt_script_test(torque_hooks_as_the_job_user torque.sh 2 user)
  ckpt_script_test(torque_hooks_as_root_drop_to_the_job_user torque.sh 2 root)
  ckpt_script_test(torque_hooks_with_a_serial_program torque.sh 1 serial)
  ckpt_script_test(torque_hooks_with_a_job_script_on_stdin torque.sh 2 script)
  ckpt_script_test(lsf_echkpnt_erestart_methods lsf.sh 2)
  ckpt_script_test(slurm_template_requeues_on_85_and_resumes slurm.sh 2)
endif()
