# Restore on another rank count (docs/distribution.md): written at N, restored at every M of
# {1,2,3,4,5,8}, every distribution checked element by element.
if(TARGET ckpt_test_support)
  add_executable(nm_state ${CMAKE_CURRENT_LIST_DIR}/nm_state.cpp)
  target_link_libraries(nm_state PRIVATE ckpt::ckpt ckpt_dev_flags)
  foreach(n 1 2 3 4 5 8)
    add_test(NAME redistribution.restore_on_any_rank_count.from${n}
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/nm_any_rank_count.sh $<TARGET_FILE:nm_state> ${n} "1 2 3 4 5 8")
    set_tests_properties(redistribution.restore_on_any_rank_count.from${n} PROPERTIES
                         LABELS "redistribution" PROCESSORS 2 TIMEOUT 600
                         PASS_REGULAR_EXPRESSION "every rank count restored the state exactly")
  endforeach()
endif()
# The file without ckpt (docs/file-format.md): h5py reads the block entries as global arrays, the
# concatenated one as the global sequence and the replicated one as a single value, exactly as
# nm_state wrote them at 4 ranks. Skipped (77) without a python3 that has h5py (python3-h5py).
if(TARGET nm_state)
  add_test(NAME redistribution.h5py_reads_block_entries_as_global_arrays
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/h5py_reads_global_arrays.sh $<TARGET_FILE:nm_state> ${MPIEXEC_EXECUTABLE})
  set_tests_properties(redistribution.h5py_reads_block_entries_as_global_arrays PROPERTIES
                       LABELS "redistribution" PROCESSORS 2 TIMEOUT 180 SKIP_RETURN_CODE 77
                       PASS_REGULAR_EXPRESSION "h5py_global: ok: ")
  # Compressed (docs/compression.md): h5py reads the same values through deflate and through LZ4
  # (Debian's hdf5-filter-plugin, which the serial HDF5 under h5py finds by itself), and a
  # compressed checkpoint restores on other rank counts (boxes that cut through chunks).
  foreach(c lz4 deflate:4)
    string(REPLACE ":" "" tag ${c})
    add_test(NAME redistribution.h5py_reads_compressed_entries.${tag}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/h5py_reads_global_arrays.sh $<TARGET_FILE:nm_state> ${MPIEXEC_EXECUTABLE})
    set_tests_properties(redistribution.h5py_reads_compressed_entries.${tag} PROPERTIES
                         LABELS "redistribution;compression" PROCESSORS 2 TIMEOUT 180 SKIP_RETURN_CODE 77
                         ENVIRONMENT NM_STATE_COMPRESSION=${c}
                         PASS_REGULAR_EXPRESSION "h5py_global: ok: .*, compressed ${c}")
  endforeach()
  # Incremental (docs/incremental.md): a version whose every entry links to the one before,
  # restored through the links on other rank counts.
  add_test(NAME redistribution.restore_on_any_rank_count.incremental.from3
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/nm_any_rank_count.sh $<TARGET_FILE:nm_state> 3 "1 2 4")
  set_tests_properties(redistribution.restore_on_any_rank_count.incremental.from3 PROPERTIES
                       LABELS "redistribution;incremental" PROCESSORS 2 TIMEOUT 600 ENVIRONMENT NM_STATE_INCREMENTAL=1
                       PASS_REGULAR_EXPRESSION "every rank count restored the state exactly")
  add_test(NAME redistribution.restore_on_any_rank_count.compressed.from3
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/nm_any_rank_count.sh $<TARGET_FILE:nm_state> 3 "1 2 4 5")
  set_tests_properties(redistribution.restore_on_any_rank_count.compressed.from3 PROPERTIES
                       LABELS "redistribution;compression" PROCESSORS 2 TIMEOUT 600 ENVIRONMENT NM_STATE_COMPRESSION=lz4
                       PASS_REGULAR_EXPRESSION "every rank count restored the state exactly")
endif()
