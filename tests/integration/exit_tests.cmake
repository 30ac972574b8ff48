# How real MPI programs end: an uncaught ckpt::Error, main_guard with an application's own
# MPI_Init, and a Checkpointer that outlives MPI_Finalize (tests/integration/exit_paths.*).
add_executable(exit_paths ${CMAKE_CURRENT_SOURCE_DIR}/integration/exit_paths.cpp)
target_link_libraries(exit_paths PRIVATE ckpt::ckpt ckpt_dev_flags)
foreach(case_np uncaught:2 bad-option:1 bad-option:2 guard-app-init:8 guard-app-init:1 finalize-first:2
                async-finalize-first:2 async-finalize-first:4 async-single:2)
  string(REPLACE ":" ";" parts ${case_np})
  list(GET parts 0 case)
  list(GET parts 1 np)
  set(name integration.exit_${case}.np${np})
  string(REPLACE "-" "_" name ${name})
  add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/exit_paths.sh $<TARGET_FILE:exit_paths> ${np} ${case})
  set_tests_properties(${name} PROPERTIES PROCESSORS ${np} LABELS integration TIMEOUT 300)
endforeach()
