/* The empty MPI job of the start-up comparison: MPI_Init, MPI_Finalize. */
#include <mpi.h>
int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	MPI_Finalize();
	return 0;
}
