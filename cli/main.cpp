#include <cstdio>
int main() { std::puts("pixelflow"); return 0; }
