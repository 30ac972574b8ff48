# The programs of docs/ (examples/docs/*.cpp, built by examples/CMakeLists.txt) run as the docs
# show them, each test in a fresh directory (run_doc_example.cmake): exit status, what they print
# and which checkpoint files they leave. Programs shown under mpiexec run on 2 ranks; the others
# run as the serial programs they are. Under mpiexec the ranks' lines can interleave mid-line, so
# those tests check files, and output only where rank 0 alone prints. A resume writes nothing:
# a fresh start would write the next ten versions and rotate the old ones away.
# Included from tests/CMakeLists.txt.

# The code blocks of the docs are copies of those programs (or of parts of them).
add_test(NAME docs.code_blocks_are_compiled_examples
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/docs/doc_snippets.cmake)
set_tests_properties(docs.code_blocks_are_compiled_examples PROPERTIES LABELS docs)

if(NOT CKPT_BUILD_EXAMPLES)
  return()
endif()

string(REPLACE ";" "|" _ckpt_doc_mpiexec "${MPIEXEC_EXECUTABLE};${MPIEXEC_NUMPROC_FLAG};2;${MPIEXEC_PREFLAGS}")

# ckpt_doc_test(<test name> <example> [MPI] [-D<run option>=<value> ...]), options as in
# run_doc_example.cmake.
function(ckpt_doc_test name example)
  set(defs ${ARGN})
  set(launcher "")
  set(processors 1)
  if(defs AND "${ARGV2}" STREQUAL "MPI")
    list(REMOVE_AT defs 0)
    set(launcher "-DLAUNCHER=${_ckpt_doc_mpiexec}")
    set(processors 2)
  endif()
  add_test(NAME docs.${name}
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:doc_${example}>
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/docs/${name} ${launcher} ${defs}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/docs/run_doc_example.cmake)
  set_tests_properties(docs.${name} PROPERTIES LABELS docs PROCESSORS ${processors} TIMEOUT 120)
endfunction()

# docs/getting-started.md: every=100 over 1000 steps, two versions kept; then a resume.
ckpt_doc_test(getting_started getting_started MPI
  "-DARGS1=--checkpoint every=100"
  "-DFILES1=ckpt/ckpt.000009.h5 ckpt/ckpt.000010.h5" "-DABSENT1=ckpt/ckpt.000008.h5"
  "-DARGS2=--checkpoint every=100 --restart latest"
  "-DFILES2=ckpt/ckpt.000009.h5 ckpt/ckpt.000010.h5" "-DABSENT2=ckpt/ckpt.000020.h5")
# docs/getting-started.md, "Serial programs": no mpiexec.
ckpt_doc_test(getting_started.serial getting_started
  "-DARGS1=--checkpoint every=500" "-DOUT1=^rank 0: u\\[0\\] = 0\\.367695\n$"
  "-DFILES1=ckpt/ckpt.000001.h5 ckpt/ckpt.000002.h5" "-DABSENT1=ckpt/ckpt.000003.h5")
# docs/getting-started.md: a restore's effect on each kind of object, and the hooks' order.
ckpt_doc_test(restore_semantics restore_semantics
  "-DARGS1=" "-DOUT1=on_checkpoint 1[^\n]*\non_checkpoint 2\nwrote \\./ckpt/ckpt\\.000001\\.h5\n"
  "-DARGS2=--restart latest"
  "-DOUT2=on_restart 2 runs first\non_restart 1[^\n]*\nparticles: 7 elements")
# docs/getting-started.md: two checkpointers, the second built from Options (every=50 must
# imply periodic there, or no stats file is written).
ckpt_doc_test(two_checkpointers two_checkpointers MPI
  "-DARGS1=--checkpoint every=10"
  "-DFILES1=ckpt/field.000009.h5 ckpt/field.000010.h5 ckpt/stats.000001.h5 ckpt/stats.000002.h5"
  "-DABSENT1=ckpt/field.000008.h5 ckpt/stats.000003.h5"
  "-DARGS2=--checkpoint every=10 --restart latest"
  "-DFILES2=ckpt/field.000009.h5 ckpt/field.000010.h5 ckpt/stats.000001.h5 ckpt/stats.000002.h5"
  "-DABSENT2=ckpt/field.000020.h5 ckpt/stats.000004.h5")
# docs/configuration.md: flags over CKPT_* over values in code; %j from CKPT_JOB_ID; a 30-minute
# interval writes nothing in 10 quick steps. The dir is given on the command line so that the
# example's /tmp/ckpt-%j is never touched.
ckpt_doc_test(options options
  "-DENV1=CKPT_DEPTH=5 CKPT_JOB_ID=doctest" "-DARGS1=--checkpoint depth=1,dir=@WORK@/ck-%j"
  "-DOUT1=depth 1, dir [^\n]*/ck-doctest\n" "-DABSENT1=ck-doctest/ckpt.000001.h5")
# docs/errors.md: exit codes 66 (nothing to restart from) and 64 (a bad value), and 0.
ckpt_doc_test(errors.no_checkpoint errors "-DARGS1=--restart latest" -DRC1=66
  "-DOUT1=--restart latest: no complete checkpoint")
ckpt_doc_test(errors.bad_value errors "-DENV1=CKPT_INTERVAL=10x" "-DARGS1=" -DRC1=64
  "-DOUT1=fix CKPT_INTERVAL \\(was \"10x\"\\)")
ckpt_doc_test(errors.runs errors "-DARGS1=" -DRC1=0 "-DABSENT1=ckpt/ckpt.000001.h5")
# docs/safe-points.md: runs to the end (exit 0, no "leaving" line), with the one checkpoint it
# asks for from code. On 2 ranks only the exit and the silence are checked: the request, made
# at step 1554, may still be travelling between the ranks when the loop ends at step 5000.
ckpt_doc_test(safe_points safe_points "-DARGS1=" -DRC1=0 "-DOUT1=^$"
  "-DFILES1=ckpt/ckpt.000001.h5" "-DABSENT1=ckpt/ckpt.000002.h5")
ckpt_doc_test(safe_points.np2 safe_points MPI "-DARGS1=" -DRC1=0 "-DOUT1=^$")
# docs/extending.md: each path writes, and restores what it wrote.
ckpt_doc_test(direct direct "-DARGS1=" "-DOUT1=wrote \\./ckpt/ckpt\\.000001\\.h5"
  "-DARGS2=--restart latest" "-DOUT2=restored step 42, label \"run A\"")
ckpt_doc_test(codec codec "-DARGS1=" "-DOUT1=wrote \\./ckpt/ckpt\\.000001\\.h5"
  "-DARGS2=--restart latest" "-DOUT2=restored a 4 x 3 mesh, periodic boundary")
# The random number generator's state is restored: the same next number after the restore.
ckpt_doc_test(boost boost
  "-DARGS1=" "-DOUT1=wrote \\./ckpt/ckpt\\.000001\\.h5; next random number 2021368500568277588"
  "-DARGS2=--restart latest" "-DOUT2=restored 2 species; next random number 2021368500568277588")
ckpt_doc_test(force_path force_path "-DARGS1=" "-DOUT1=wrote \\./ckpt/ckpt\\.000001\\.h5"
  "-DARGS2=--restart latest" "-DOUT2=restored histogram \"speed\" with 7 samples")
# docs/file-format.md: the file it dumps, written by 2 ranks.
ckpt_doc_test(file_format file_format MPI "-DARGS1=" "-DOUT1=\\./ckpt/ckpt\\.000001\\.h5"
  "-DFILES1=ckpt/ckpt.000001.h5" "-DABSENT1=ckpt/ckpt.000002.h5")
unset(_ckpt_doc_mpiexec)
# docs/distribution.md: written on 4 ranks, restored on 3 and on 1, the state exact each time.
add_test(NAME docs.distribution_restores_on_other_rank_counts
         COMMAND sh -c "rm -rf ckpt && ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 4 $<TARGET_FILE:doc_distribution> --checkpoint every=10 && \
${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 3 $<TARGET_FILE:doc_distribution> --checkpoint every=10 --restart latest && \
${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 1 $<TARGET_FILE:doc_distribution> --checkpoint every=10 --restart latest")
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/docs/distribution)
set_tests_properties(docs.distribution_restores_on_other_rank_counts PROPERTIES LABELS docs PROCESSORS 2 TIMEOUT 120
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/docs/distribution
  PASS_REGULAR_EXPRESSION "on 3 ranks from 4: grid exact, 10 particles, 40 events.*on 1 rank from 4: grid exact, 10 particles, 40 events")
# docs/compression.md: an entry's own compress() wins over the job's lz4 default (the rng stays
# raw), and the restore needs no setting.
ckpt_doc_test(compression compression MPI
  "-DARGS1=" "-DOUT1=^wrote [^\n]*ckpt\\.000001\\.h5\n$" "-DFILES1=ckpt/ckpt.000001.h5"
  "-DARGS2=--restart latest" "-DOUT2=: exact; u lz4, mesh deflate, rng none\n")
