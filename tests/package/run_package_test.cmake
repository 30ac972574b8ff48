# Driver for the package.* tests (see package_tests.cmake). Run as
#   cmake -DMODE=find_package|add_subdirectory -DCONFIG=<config> -DSETTINGS=<settings.cmake>
#         -DSOURCE_DIR=<outside project> -DWORK_DIR=<scratch dir> -P run_package_test.cmake
# Every step starts from an empty WORK_DIR, so a stale cache can never make a test pass.
cmake_minimum_required(VERSION 3.21)

foreach(_arg MODE SETTINGS SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${_arg})
    message(FATAL_ERROR "run_package_test.cmake: -D${_arg}=... is required")
  endif()
endforeach()
include(${SETTINGS})

# Run a command; on failure print it and everything it wrote, then fail the test.
# Its stdout is left in run_output.
function(run what)
  message(STATUS "${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "${what} failed (exit ${rc}):\n  ${cmd}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# Run the built program (main.cpp) twice: write a checkpoint, then restore it.
function(run_app build_dir name)
  set(exe ${build_dir}/${name})
  if(CONFIG AND NOT EXISTS ${exe})
    set(exe ${build_dir}/${CONFIG}/${name})  # multi-config generators
  endif()
  set(ckpt_dir ${WORK_DIR}/checkpoints-${name})
  run("run ${name}: write a checkpoint" ${exe} --checkpoint-dir ${ckpt_dir})
  if(NOT run_output STREQUAL "ckpt ${CKPT_VERSION} wrote\n")
    message(FATAL_ERROR "${name} printed \"${run_output}\", expected \"ckpt ${CKPT_VERSION} wrote\"")
  endif()
  file(GLOB written ${ckpt_dir}/*.h5)
  if(NOT written)
    message(FATAL_ERROR "${name} wrote no ${ckpt_dir}/*.h5")
  endif()
  run("run ${name}: restore it" ${exe} --checkpoint-dir ${ckpt_dir} --restart latest)
  if(NOT run_output STREQUAL "ckpt ${CKPT_VERSION} restored\n")
    message(FATAL_ERROR "${name} printed \"${run_output}\", expected \"ckpt ${CKPT_VERSION} restored\"")
  endif()
endfunction()

# Initial cache shared by every outside configure: same toolchain and search paths as this build.
# Written as a file (cmake -C) so lists and odd characters survive without quoting games.
function(write_init_cache file)
  set(content "")
  foreach(var CMAKE_TOOLCHAIN_FILE CMAKE_C_COMPILER CMAKE_CXX_COMPILER CMAKE_C_FLAGS CMAKE_CXX_FLAGS
              CMAKE_MAKE_PROGRAM HDF5_ROOT Boost_ROOT BOOST_ROOT MPI_HOME)
    if(NOT "${${var}}" STREQUAL "")
      string(APPEND content "set(${var} [==[${${var}}]==] CACHE STRING \"\")\n")
    endif()
  endforeach()
  string(APPEND content "set(CMAKE_BUILD_TYPE [==[${CONFIG}]==] CACHE STRING \"\")\n")
  string(APPEND content "set(CMAKE_PREFIX_PATH [==[${ARGN}]==] CACHE STRING \"\")\n")
  # Find ckpt only where the test put it, never through ~/.cmake/packages.
  string(APPEND content "set(CMAKE_FIND_USE_PACKAGE_REGISTRY OFF CACHE BOOL \"\")\n")
  file(WRITE ${file} "${content}")
endfunction()

set(generator_args -G ${CMAKE_GENERATOR})
if(CMAKE_GENERATOR_PLATFORM)
  list(APPEND generator_args -A ${CMAKE_GENERATOR_PLATFORM})
endif()
if(CMAKE_GENERATOR_TOOLSET)
  list(APPEND generator_args -T ${CMAKE_GENERATOR_TOOLSET})
endif()
set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

if(MODE STREQUAL "find_package")
  # 1. Install ckpt from a fresh configure of its source tree, tests/examples/benchmarks off.
  write_init_cache(${WORK_DIR}/init.cmake ${CMAKE_PREFIX_PATH})
  run("configure ckpt for installation"
      ${CMAKE_COMMAND} -C ${WORK_DIR}/init.cmake ${generator_args} -S ${CKPT_SOURCE_DIR} -B ${WORK_DIR}/ckpt
      -DCKPT_BUILD_TESTS=OFF -DCKPT_BUILD_EXAMPLES=OFF -DCKPT_BUILD_BENCH=OFF -DCKPT_INSTALL=ON
      -DCMAKE_INSTALL_PREFIX=${prefix})
  run("build ckpt" ${CMAKE_COMMAND} --build ${WORK_DIR}/ckpt ${config_args})
  run("install ckpt to ${prefix}" ${CMAKE_COMMAND} --install ${WORK_DIR}/ckpt ${config_args})
  # With libckpt the package files are architecture-specific: <libdir>/cmake/ckpt.
  file(GLOB package_dir LIST_DIRECTORIES true ${prefix}/lib*/cmake/ckpt)
  if(NOT package_dir)
    message(FATAL_ERROR "ckpt's install did not create ${prefix}/<libdir>/cmake/ckpt")
  endif()
  get_filename_component(libdir ${package_dir}/../.. ABSOLUTE)
  foreach(f ${prefix}/include/ckpt.hpp ${prefix}/include/ckpt/version.hpp ${prefix}/include/ckpt/impl/checkpointer.hpp
            ${package_dir}/ckptConfig.cmake ${package_dir}/ckptConfigVersion.cmake ${package_dir}/ckptTargets.cmake)
    if(NOT EXISTS ${f})
      message(FATAL_ERROR "ckpt's install did not create ${f}")
    endif()
  endforeach()
  file(GLOB libckpt ${libdir}/libckpt.*)
  if(NOT libckpt)
    message(FATAL_ERROR "ckpt's install did not create ${libdir}/libckpt (the compiled mode)")
  endif()

  # 2. A CXX-only consumer finds it there (and only there), builds and runs.
  write_init_cache(${WORK_DIR}/init-app.cmake ${prefix} ${CMAKE_PREFIX_PATH})
  run("configure the consumer project"
      ${CMAKE_COMMAND} -C ${WORK_DIR}/init-app.cmake ${generator_args} -S ${SOURCE_DIR} -B ${WORK_DIR}/app
      -DCKPT_EXPECTED_VERSION=${CKPT_VERSION} -DCKPT_EXPECTED_DIR=${package_dir})
  run("build the consumer project" ${CMAKE_COMMAND} --build ${WORK_DIR}/app ${config_args})
  run_app(${WORK_DIR}/app app)
  run_app(${WORK_DIR}/app app_compiled)  # the same program against ckpt::compiled

elseif(MODE STREQUAL "add_subdirectory")
  # The parent's CMakeLists.txt itself asserts that no ckpt test/example/bench target exists.
  write_init_cache(${WORK_DIR}/init.cmake ${CMAKE_PREFIX_PATH})
  run("configure the parent project"
      ${CMAKE_COMMAND} -C ${WORK_DIR}/init.cmake ${generator_args} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
      -DCKPT_SOURCE_DIR=${CKPT_SOURCE_DIR} -DCMAKE_INSTALL_PREFIX=${prefix})
  run("build the parent project" ${CMAKE_COMMAND} --build ${WORK_DIR}/build ${config_args})
  run_app(${WORK_DIR}/build parent)
  run_app(${WORK_DIR}/build parent_compiled)

  # No ckpt test is registered in the parent (it calls enable_testing(), so they would show).
  get_filename_component(cmake_bin_dir ${CMAKE_COMMAND} DIRECTORY)
  find_program(ctest_exe ctest HINTS ${cmake_bin_dir} NO_DEFAULT_PATH)
  if(NOT ctest_exe)
    find_program(ctest_exe ctest REQUIRED)
  endif()
  run("list the parent's tests" ${ctest_exe} --test-dir ${WORK_DIR}/build -N ${config_args})
  if(NOT run_output MATCHES "Total Tests: 0")
    message(FATAL_ERROR "ckpt registered tests in the parent project:\n${run_output}")
  endif()

  # Installing the parent installs only the parent's own file: ckpt adds no install rules.
  run("install the parent" ${CMAKE_COMMAND} --install ${WORK_DIR}/build ${config_args})
  file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE ${prefix} ${prefix}/*)
  if(NOT installed STREQUAL "bin/parent")
    message(FATAL_ERROR "installing the parent installed more than bin/parent: ${installed}")
  endif()

else()
  message(FATAL_ERROR "run_package_test.cmake: unknown MODE \"${MODE}\"")
endif()
message(STATUS "package.${MODE}: passed")
